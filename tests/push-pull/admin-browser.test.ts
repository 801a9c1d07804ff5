// The admin page in headless Chromium (Debian's chromium, driven by playwright-core) over a real
// HTTP server on 127.0.0.1: staff sign in, change a permission on the page and the user's very
// next pull obeys it; the users, sync log and audit views show and filter what happened, and
// their CSV exports download; an environment-sync pull is previewed (dry run) and then confirmed;
// a non-staff user, a request without a session and a change without the CSRF token get nothing.
// Screenshots of each view are saved under .tmp/artifacts/admin (ENTITY_SYNC_ARTIFACTS_DIR).
import 'reflect-metadata';
import { createHttpHandler, jwtAuth, staticTokenAuth, type TokenSubject } from '@entity-sync/adapters/http';
import {
  adminRoutes, envSyncRoutes, EntitySync, grantPermissions, installAudit, installPushPull, pullFrom, pushPullRoutes, type PulledChanges,
} from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { SignJWT } from 'jose';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';
import { chromiumAvailable, launchChromium, type Chromium } from './browser/chromium.js';

@Entity({ tableName: 'ad_task' })
@SyncModel({ tenant: 'org', audit: true })
class AdTask {
  @PrimaryKey() id!: number;
  @Property() org!: string;
  @Property() owner!: string;
  @Property() title!: string;
}

@Entity({ tableName: 'ad_country' })
@SyncModel({ naturalKey: ['code'] })
class AdCountry {
  @PrimaryKey() id!: number;
  @Property({ unique: true }) code!: string;
  @Property() name!: string;
}

const SECRET = 'admin-page-secret-of-thirty-two-bytes!';
const ISSUER = 'app';
const AUDIENCE = 'sync';
const SOURCE_TOKEN = 'source-token-0123456789abcdef';
const PAGE_MS = 15_000;
const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/^\/+/, '/');
const artifacts = process.env.ENTITY_SYNC_ARTIFACTS_DIR ?? join(root, '.tmp/artifacts/admin');

const USERS: Record<string, { password: string; subject: TokenSubject }> = {
  root: { password: 'root-pass', subject: { subject: 'root', rights: [], roles: ['staff'] } },
  ada: { password: 'ada-pass', subject: { subject: 'ada', rights: ['push-pull:pull', 'push-pull:push'], tenants: ['acme'], roles: ['member'] } },
};
const verify = ({ username, password }: { username: string; password: string }) => (USERS[username]?.password === password ? USERS[username]!.subject : null);
const tokenOf = (subject: TokenSubject) => new SignJWT({ scope: subject.rights.join(' '), tenants: subject.tenants ?? [], sync_roles: subject.roles ?? [] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject(subject.subject).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('10m').sign(new TextEncoder().encode(SECRET));

if (chromiumAvailable()) {
  // one backend is enough for the page; the real PostgreSQL one when there is one
  const backend = testBackends().at(-1)!;
  const test = suite(`push/pull: the admin page in headless Chromium [${backend.name}]`);
  let chromium: Chromium | undefined;
  let orm: MikroORM;
  let source: MikroORM;
  let server: Served;
  let sourceServer: Served;
  let context: BrowserContext | undefined;
  let page: Page;
  let ada: string;
  /** The checkpoint of ada's last pull. */
  let checkpoint: string | null = null;

  const url = (path: string) => `${server.url}/sync${path}`;
  const pullAsAda = async () => {
    const response = await fetch(url('/pull'), { method: 'POST', headers: { authorization: `Bearer ${ada}`, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'acme', clientId: 'phone', models: ['AdTask'] }) });
    const answer = response.ok ? (await response.json()) as PulledChanges : undefined;
    checkpoint = answer?.checkpoint ?? checkpoint;
    return { status: response.status, ids: answer ? answer.changes.flatMap((change) => change.upserted.map((doc) => doc.id)) : [] };
  };
  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const signIn = async (username: string) => {
    await page.goto(url('/admin'));
    assert.match(page.url(), /\/sync\/admin\/login$/, 'without a session the page sends to the sign-in');
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', USERS[username]!.password);
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Sign in")')]);
  };
  /** Clicks the Save of the member / AdTask line and waits for the page that says it was saved (or refused). */
  const save = async () => {
    const saved = page.waitForResponse((response) => response.request().method() === 'GET' && response.url().includes('/admin/permissions?saved='));
    await page.locator('tr[data-role="member"][data-model="AdTask"] button:has-text("Save")').click();
    await saved;
    await page.waitForLoadState('load');
  };
  const download = async (link: string) => {
    const [file] = await Promise.all([page.waitForEvent('download'), page.click(`a:has-text("${link}")`)]);
    // the browser runs as a server of its own: the file is copied here
    const copy = join(artifacts, file.suggestedFilename());
    await file.saveAs(copy);
    return readFileSync(copy, 'utf8');
  };

  test.before(async () => {
    mkdirSync(artifacts, { recursive: true });
    chromium = await launchChromium();
  });
  test.after(async () => {
    await chromium?.close();
    chromium = undefined;
  });
  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [AdTask, AdCountry], extensions: [EntitySync] });
    source = await backend.createOrm({ entities: [AdTask, AdCountry], extensions: [EntitySync] });
    const em = orm.em.fork();
    em.create(AdTask, { id: 1, org: 'acme', owner: 'ada', title: 'hers' });
    em.create(AdTask, { id: 2, org: 'acme', owner: 'bob', title: 'his' });
    em.create(AdTask, { id: 3, org: 'acme', owner: 'ada', title: 'hers too' });
    em.create(AdCountry, { code: 'de', name: 'Deutschland' } as AdCountry);
    await em.flush();
    const sem = source.em.fork();
    sem.create(AdCountry, { id: 10, code: 'de', name: 'Germany' });
    sem.create(AdCountry, { id: 11, code: 'fr', name: 'France' });
    await sem.flush();
    await installPushPull(orm.em.fork());
    await installAudit(orm.em.fork());
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'AdTask', pull: true, push: true, update: true });
    sourceServer = await serve(createHttpHandler({ prefix: '/ref', auth: staticTokenAuth({ token: SOURCE_TOKEN }), routes: envSyncRoutes(source, { models: ['AdCountry'] }) }), 'node');
    server = await serve(createHttpHandler({
      prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE }),
      routes: [pushPullRoutes(orm, { permissions: true, models: ['AdTask'] }), adminRoutes(orm, {
        prefix: '/sync', signIn: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE, verify },
        envSync: { sources: [{ name: 'staging', url: `${sourceServer.url}/ref` }], pull: (from, options) => pullFrom(orm.em.fork(), from, { ...options, token: SOURCE_TOKEN, models: ['AdCountry'] }) },
      })],
    }), 'node');
    ada = await tokenOf(USERS.ada!.subject);
    context = await chromium!.browser.newContext({ acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(PAGE_MS);
  });
  test.after.each(async () => {
    await context?.close();
    await server.close();
    await sourceServer.close();
    await orm.close();
    await source.close();
  });

  test('staff change a permission on the page and the next pull obeys it; users, log and audit views filter and export', async () => {
    assert.equal(await pullAsAda(), { status: 200, ids: [1, 2, 3] });
    const pushed = await fetch(url('/push'), {
      method: 'POST', headers: { authorization: `Bearer ${ada}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme', clientId: 'phone', mutationId: 'm1', checkpoint, changes: [{ model: 'AdTask', id: 1, doc: { title: 'renamed by ada' } }] }),
    });
    assert.equal(((await pushed.json()) as { results: { status: string }[] }).results.map((result) => result.status), ['updated']);
    await signIn('root');
    assert.is(new URL(page.url()).pathname, '/sync/admin');
    assert.is(await page.locator('[data-health]').getAttribute('data-health'), 'ok');
    await shot('overview');

    await page.click('header a:has-text("Permissions")');
    const row = page.locator('tr[data-role="member"][data-model="AdTask"]');
    assert.ok(await row.locator('input[name=pull]').isChecked());
    await row.locator('textarea[name=filters]').fill('[{"field": "owner", "op": "eq", "value": {"$ref": "user"}}]');
    await save();
    assert.match(await page.locator('[role=status]').innerText(), 'member / AdTask');
    await shot('permissions');
    assert.equal(await pullAsAda(), { status: 200, ids: [1, 3] }, 'the row filter set on the page holds on the very next pull');
    await page.locator('tr[data-role="member"][data-model="AdTask"] input[name=pull]').uncheck();
    await save();
    assert.is((await pullAsAda()).status, 403, 'pull unchecked: the model is refused on the next request');
    await page.locator('tr[data-role="member"][data-model="AdTask"] textarea[name=filters]').fill('[{"field": "nope", "op": "eq", "value": 1}]');
    await page.locator('tr[data-role="member"][data-model="AdTask"] button:has-text("Save")').click();
    assert.match(await page.locator('.error').innerText(), 'PUSH_PULL_PERMISSION_INVALID', 'a bad filter is refused on the page, naming why');

    await page.click('header a:has-text("Users")');
    const user = page.locator('tbody tr', { hasText: 'ada' }).first();
    assert.match(await user.innerText(), /acme[\s\S]*member/);
    assert.match(await page.locator('body').innerText(), 'phone');
    await shot('users');

    await page.click('header a:has-text("Sync log")');
    await page.fill('input[name=user]', 'ada');
    await page.selectOption('select[name=failed]', 'yes');
    await Promise.all([page.waitForURL(/failed=yes/), page.click('button:has-text("Filter")')]);
    const failedRows = await page.locator('main tbody tr').allInnerTexts();
    assert.is(failedRows.length, 1, 'the one refused pull');
    assert.match(failedRows[0]!, 'PUSH_PULL_FORBIDDEN');
    await shot('sync-log');
    const csv = (await download('CSV')).trim().split('\n');
    assert.is(csv.length, 2, 'the header and the refused pull');
    assert.match(csv[1]!, /,ada,member,acme,phone,pull,/);

    await page.click('header a:has-text("Audit trail")');
    await page.fill('input[name=actor]', 'ada');
    await Promise.all([page.waitForURL(/actor=ada/), page.click('button:has-text("Filter")')]);
    const audited = await page.locator('main tbody tr').allInnerTexts();
    assert.is(audited.length, 1);
    assert.match(audited[0]!, /AdTask[\s\S]*update[\s\S]*ada[\s\S]*title: "hers" → "renamed by ada"/);
    await shot('audit-trail');
    const auditCsv = (await download('CSV')).trim().split('\n');
    assert.is(auditCsv.length, 2);
    assert.match(auditCsv[1]!, /AdTask,1,update,ada,phone,/);
  });

  test('an environment-sync pull is previewed as a dry run, then confirmed and applied', async () => {
    await signIn('root');
    await page.click('header a:has-text("Environment sync")');
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Preview pull")')]);
    assert.match(await page.locator('.notice').innerText(), 'nothing was written');
    const diff = await page.locator('ul.diff').innerText();
    assert.match(diff, '+ fr');
    assert.match(diff, /~ de: name "Deutschland" → "Germany"/);
    await shot('env-sync-preview');
    assert.equal((await orm.em.fork().find(AdCountry, {}, { orderBy: { code: 'asc' } })).map((country) => country.name), ['Deutschland'], 'the dry run wrote nothing');
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Confirm: pull from staging")')]);
    assert.match(await page.locator('[role=status]').innerText(), 'Pulled from staging');
    assert.match(await page.locator('main').innerText(), '1 created, 1 updated');
    await shot('env-sync-result');
    assert.equal((await orm.em.fork().find(AdCountry, {}, { orderBy: { code: 'asc' } })).map((country) => country.name), ['Germany', 'France']);
  });

  test('a non-staff user, a request without a session and a change without the CSRF token get nothing', async () => {
    await signIn('ada');
    assert.is(await page.locator('h1').innerText(), 'Forbidden');
    assert.not.match(await page.content(), 'AdTask');
    for (const path of ['/admin', '/admin/permissions', '/admin/log', '/admin/audit.csv']) {
      const response = await fetch(url(path), { headers: { authorization: `Bearer ${ada}` }, redirect: 'manual' });
      const body = await response.text();
      assert.is(response.status, 403, path);
      assert.not.match(body, /AdTask|ada,|phone/, `${path} shows nothing`);
      assert.is((await fetch(url(path), { redirect: 'manual' })).status, 303, `${path} without a session goes to the sign-in`);
    }
    assert.is((await fetch(url('/admin/login'), { method: 'POST', body: 'username=root&password=wrong', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' }))
      .headers.get('location'), '/sync/admin/login?refused=credentials');
    await signIn('root');
    const cookie = (await context!.cookies()).find((candidate) => candidate.name === 'entity_sync_admin')!;
    assert.ok(cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/sync/admin');
    const forged = await fetch(url('/admin/permissions'), {
      method: 'POST', headers: { cookie: `entity_sync_admin=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'role=member&model=AdTask&do=revoke&csrf=made-up',
    });
    assert.is(forged.status, 403);
    assert.is((await pullAsAda()).status, 200, 'the forged change did nothing');
  });

  test.run();
}
