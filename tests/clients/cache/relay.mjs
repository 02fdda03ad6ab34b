// Relay (relay-compiler on the exported schema, relay-runtime): a nested page read back
// from the store exactly as the server sent it; a group's volunteers paginated with
// @connection, the next page refetched through node(id:).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { createRequire } from 'node:module';
import { done, regionFetch } from './server.mjs';

const require = createRequire(import.meta.url);
const {
  Environment,
  Network,
  RecordSource,
  Store,
  createOperationDescriptor,
  fetchQuery,
  getSelector,
} = require('relay-runtime');

// Compile the documents in relay/ against schema/schema.graphql as exported.
mkdirSync('relay/__generated__', { recursive: true });
// The artifacts are CommonJS (they require each other without an extension).
writeFileSync('relay/__generated__/package.json', '{"type": "commonjs"}\n');
const compiled = execFileSync(process.execPath, [require.resolve('relay-compiler/cli.js')], {
  encoding: 'utf8',
});
process.stderr.write(compiled);

const { TOKEN, GROUP_ID } = process.env;
const answers = [];
const network = Network.create(async (params, variables) => {
  const response = await regionFetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query: params.text, variables }),
  });
  const json = await response.json();
  answers.push({ name: params.name, json });
  return json;
});
const environment = new Environment({ network, store: new Store(new RecordSource()) });

// 1. The nested page.
const artifact = (name) => require(`./relay/__generated__/${name}.graphql.js`);
const nested = artifact('RelayNestedPageQuery');
const variables = { id: GROUP_ID };
await fetchQuery(environment, nested, variables).toPromise();
const sent = answers.at(-1).json;
if (sent.errors) throw new Error(JSON.stringify(sent.errors));
const operation = createOperationDescriptor(nested, variables);
const stored = environment.lookup(operation.fragment).data;
const asSent = isDeepStrictEqual(JSON.parse(JSON.stringify(stored)), sent.data);

// 2. Paginate with @connection: the first page, then the next through node(id:).
const groupQuery = artifact('RelayGroupQuery');
const fragment = artifact('RelayGroupVolunteers_group');
const pagination = artifact('RelayGroupVolunteersPaginationQuery');
const first = await fetchQuery(environment, groupQuery, variables).toPromise();
const read = () => environment.lookup(getSelector(fragment, first.group)).data.volunteers;
const firstPage = read();
await fetchQuery(environment, pagination, {
  id: first.group.id,
  count: 2,
  cursor: firstPage.pageInfo.endCursor,
}).toPromise();
const refetch = answers.at(-1).json;
const merged = read();
done({
  asSent,
  volunteers: sent.data.group.volunteers.edges.map((e) => e.node.number),
  firstPage: firstPage.edges.map((e) => e.node.number),
  merged: merged.edges.map((e) => e.node.number),
  hasNextPage: merged.pageInfo.hasNextPage,
  refetchedAs: refetch.data.node.__typename,
  refetchErrors: refetch.errors || [],
});
