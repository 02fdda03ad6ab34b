// urql with its normalised cache (graphcache): the same, keyed by id; value types
// (every type without an id) are keyed as null, so graphcache embeds them.
import { Client, fetchExchange, gql } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { getIntrospectionQuery } from 'graphql';
import { GROUP_PAGE, WARN } from './operations.mjs';
import { done, regionFetch } from './server.mjs';

const { TOKEN, GROUP_ID, NUMBER } = process.env;

// README "Cache keys and identity": value types have no id; tell graphcache so.
async function valueTypeKeys(url, fetch, fetchOptions) {
  const response = await fetch(url, {
    ...fetchOptions,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...fetchOptions.headers },
    body: JSON.stringify({ query: getIntrospectionQuery() }),
  });
  const { data } = await response.json();
  return Object.fromEntries(
    data.__schema.types
      .filter((t) => t.kind === 'OBJECT' && !t.name.startsWith('__'))
      .filter((t) => !t.fields.some((f) => f.name === 'id'))
      .map((t) => [t.name, () => null]),
  );
}

const fetchOptions = { headers: { authorization: `Bearer ${TOKEN}` } };
const url = new URL('/graphql', process.env.BASE_URL).href;
const keys = await valueTypeKeys(url, regionFetch, fetchOptions);
const client = new Client({
  url,
  fetch: regionFetch,
  fetchOptions,
  exchanges: [cacheExchange({ keys }), fetchExchange],
});

const page = gql(GROUP_PAGE);
const variables = { id: GROUP_ID };
const first = await client.query(page, variables).toPromise();
if (first.error) throw first.error;
const before = first.data.group.volunteers.edges.find((e) => e.node.number === NUMBER);
const answer = await client.mutation(gql(WARN), { number: NUMBER }).toPromise();
if (answer.error) throw answer.error;
const cached = await client.query(page, variables, { requestPolicy: 'cache-only' }).toPromise();
const after = cached.data.group.volunteers.edges.find((e) => e.node.number === NUMBER);
done({ before: before.node.status, after: after.node.status, me: cached.data.me.username });
