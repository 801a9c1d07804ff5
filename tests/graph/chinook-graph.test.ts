import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { runSqlFile, testBackends } from '@entity-sync/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chinookEntities, chinookSqlPath, chinookStart } from '../fixtures/chinook/entities.js';
import { databaseForeignKeys, describeEdges, graphForeignKeys } from '../support/catalog.js';

for (const backend of testBackends()) {
  const test = suite(`Chinook relation graph [${backend.name}]`);
  let orm: Awaited<ReturnType<typeof backend.createOrm>>;

  test.before(async () => {
    // The real script creates the schema, not MikroORM: the graph is checked against a database nobody here designed.
    orm = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync], createSchema: false });
    await runSqlFile(backend, orm, chinookSqlPath, { startAt: chinookStart });
  });
  test.after(async () => {
    await orm.close();
  });

  test('the script loaded the real data', async () => {
    const [{ count }] = await orm.em.getConnection().execute<{ count: string }[]>(
      `select count(*)::int as count from ${orm.config.get('schema') ?? 'public'}.playlist_track`);
    assert.is(Number(count), 8715);
  });

  test('every foreign key of the real schema is an owning edge of the graph, and no other', async () => {
    const inDatabase = await databaseForeignKeys(orm);
    assert.is(inDatabase.length, 11);
    assert.equal(graphForeignKeys(EntitySync.of(orm).graph), inDatabase);
  });

  test('edge by edge: both directions, the self-reference and the composite-key join table as many-to-many', () => {
    assert.equal(describeEdges(EntitySync.of(orm).graph), [
      'Album.artist: many-to-one Album->Artist via Album(artist_id)->Artist(artist_id) [owner required] inverse=Artist<-Album.artist',
      'Album<-Track.album: one-to-many Album->Track via Track(album_id)->Album(album_id) [inverse nullable] inverse=Track.album',
      'Artist<-Album.artist: one-to-many Artist->Album via Album(artist_id)->Artist(artist_id) [inverse nullable] inverse=Album.artist',
      'Customer.supportRep: many-to-one Customer->Employee via Customer(support_rep_id)->Employee(employee_id) [owner nullable] inverse=Employee<-Customer.supportRep',
      'Customer<-Invoice.customer: one-to-many Customer->Invoice via Invoice(customer_id)->Customer(customer_id) [inverse nullable] inverse=Invoice.customer',
      'Employee.reports: one-to-many Employee->Employee via Employee(reports_to)->Employee(employee_id) [inverse nullable self] inverse=Employee.reportsTo',
      'Employee.reportsTo: many-to-one Employee->Employee via Employee(reports_to)->Employee(employee_id) [owner nullable self] inverse=Employee.reports',
      'Employee<-Customer.supportRep: one-to-many Employee->Customer via Customer(support_rep_id)->Employee(employee_id) [inverse nullable] inverse=Customer.supportRep',
      'Genre<-Track.genre: one-to-many Genre->Track via Track(genre_id)->Genre(genre_id) [inverse nullable] inverse=Track.genre',
      'Invoice.customer: many-to-one Invoice->Customer via Invoice(customer_id)->Customer(customer_id) [owner required] inverse=Customer<-Invoice.customer',
      'Invoice<-InvoiceLine.invoice: one-to-many Invoice->InvoiceLine via InvoiceLine(invoice_id)->Invoice(invoice_id) [inverse nullable] inverse=InvoiceLine.invoice',
      'InvoiceLine.invoice: many-to-one InvoiceLine->Invoice via InvoiceLine(invoice_id)->Invoice(invoice_id) [owner required] inverse=Invoice<-InvoiceLine.invoice',
      'InvoiceLine.track: many-to-one InvoiceLine->Track via InvoiceLine(track_id)->Track(track_id) [owner required] inverse=Track<-InvoiceLine.track',
      'MediaType<-Track.mediaType: one-to-many MediaType->Track via Track(media_type_id)->MediaType(media_type_id) [inverse nullable] inverse=Track.mediaType',
      'Playlist.tracks: many-to-many Playlist->Track via playlist_track(playlist_id|track_id) [owner nullable] inverse=Track<-Playlist.tracks',
      'Playlist<-playlist_track.Playlist_owner: one-to-many Playlist->playlist_track via playlist_track(playlist_id)->Playlist(playlist_id) [inverse nullable] inverse=playlist_track.Playlist_owner',
      'Track.album: many-to-one Track->Album via Track(album_id)->Album(album_id) [owner nullable] inverse=Album<-Track.album',
      'Track.genre: many-to-one Track->Genre via Track(genre_id)->Genre(genre_id) [owner nullable] inverse=Genre<-Track.genre',
      'Track.mediaType: many-to-one Track->MediaType via Track(media_type_id)->MediaType(media_type_id) [owner required] inverse=MediaType<-Track.mediaType',
      'Track<-InvoiceLine.track: one-to-many Track->InvoiceLine via InvoiceLine(track_id)->Track(track_id) [inverse nullable] inverse=InvoiceLine.track',
      'Track<-Playlist.tracks: many-to-many Track->Playlist via playlist_track(track_id|playlist_id) [inverse nullable] inverse=Playlist.tracks',
      'Track<-playlist_track.Track_inverse: one-to-many Track->playlist_track via playlist_track(track_id)->Track(track_id) [inverse nullable] inverse=playlist_track.Track_inverse',
      'playlist_track.Playlist_owner: many-to-one playlist_track->Playlist via playlist_track(playlist_id)->Playlist(playlist_id) [owner required] inverse=Playlist<-playlist_track.Playlist_owner',
      'playlist_track.Track_inverse: many-to-one playlist_track->Track via playlist_track(track_id)->Track(track_id) [owner required] inverse=Track<-playlist_track.Track_inverse',
    ]);
  });

  test('playlist_track is a pivot node with a composite primary key made of its two foreign keys', () => {
    const node = EntitySync.of(orm).graph.node('playlist_track');
    assert.ok(node.pivot);
    assert.equal(node.primaryKey, ['playlist_id', 'track_id']);
    assert.equal(node.columns.map((column) => `${column.name}:${column.primary}`), ['playlist_id:true', 'track_id:true']);
  });

  test('employee.reports_to is a nullable self-reference walked both ways', () => {
    const { graph } = EntitySync.of(orm);
    const up = graph.edge('Employee.reportsTo');
    const down = graph.edge(up.inverse);
    assert.ok(up.selfReference && down.selfReference);
    assert.is(up.foreignKey!.nullable, true);
    assert.equal(graph.needs('Employee').map((edge) => edge.name), ['Employee.reportsTo']);
    assert.equal(graph.dependents('Employee').map((edge) => edge.name).sort(), ['Employee.reports', 'Employee<-Customer.supportRep']);
  });

  test.run();
}
