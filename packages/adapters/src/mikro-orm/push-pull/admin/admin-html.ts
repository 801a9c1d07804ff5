/** HTML that is already safe: what `html` returns, and what it inserts as it is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML (content and quoted attributes). */
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

type Part = Html | string | number | boolean | null | undefined | Part[];

const render = (part: Part): string => {
  if (part === null || part === undefined || part === false) return '';
  if (Array.isArray(part)) return part.map(render).join('');
  if (part instanceof Html) return part.text;
  return escapeHtml(String(part));
};

/** A template of HTML whose values are escaped (lists joined, `Html` inserted as it is, null and false left out). */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  return new Html(strings.reduce((out, text, i) => out + text + (i < values.length ? render(values[i]!) : ''), ''));
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:10px 20px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
header a{color:#dfe8f5;text-decoration:none}header a.on{color:#fff;font-weight:600;border-bottom:2px solid #fff}
header form{margin-left:auto}main{padding:18px 22px}h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:18px 0 8px}
table{border-collapse:collapse;background:#fff;margin:6px 0 14px}th,td{border:1px solid #d8dde3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}form.filters{display:flex;gap:8px;flex-wrap:wrap;align-items:end;margin:8px 0}label{display:flex;flex-direction:column;font-size:12px;color:#555}
input,select,textarea,button{font:inherit}button{padding:3px 10px;cursor:pointer}.ok{color:#1a7f37}.bad{color:#b42318;font-weight:600}
.notice{background:#fff8e1;border:1px solid #e8cf7a;padding:8px 12px;margin:8px 0}.error{background:#fdecea;border:1px solid #e6a39b;padding:8px 12px;margin:8px 0}
pre{background:#fff;border:1px solid #d8dde3;padding:8px;overflow:auto;max-width:100%}code{font-size:12px}.muted{color:#777}
`;

/** A whole admin page: the navigation, the view, and the sign-out form (with its CSRF token). */
export function page(options: { title: string; prefix: string; view?: string; csrf?: string; user?: string; body: Html; status?: number }): Response {
  const views = [['', 'Overview'], ['permissions', 'Permissions'], ['users', 'Users'], ['log', 'Sync log'], ['audit', 'Audit trail'], ['env-sync', 'Environment sync']];
  const nav = options.csrf !== undefined ? html`${views.map(([path, label]) =>
    html`<a href="${options.prefix}/admin${path ? `/${path}` : ''}" class="${options.view === path ? 'on' : ''}">${label}</a>`)}
    <form method="post" action="${options.prefix}/admin/logout"><input type="hidden" name="csrf" value="${options.csrf}"><span>${options.user} </span><button>Sign out</button></form>` : html``;
  const body = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${options.title} · entity-sync admin</title><style>${new Html(STYLE)}</style></head>
<body><header><strong>entity-sync admin</strong>${nav}</header><main><h1>${options.title}</h1>${options.body}</main></body></html>`;
  return new Response(body.text, {
    status: options.status ?? 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'" },
  });
}

/** A table of rows, with a line that says so when there are none. */
export function table(headers: string[], rows: Part[][], empty = 'nothing yet'): Html {
  if (!rows.length) return html`<p class="muted">${empty}</p>`;
  return html`<table><thead><tr>${headers.map((header) => html`<th>${header}</th>`)}</tr></thead>
<tbody>${rows.map((row) => html`<tr>${row.map((cell) => html`<td>${cell}</td>`)}</tr>`)}</tbody></table>`;
}
