// Apollo Client 4 with its default InMemoryCache: a mutation's answer updates the
// volunteer already in the cached group page (same id), with no cache warnings.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GROUP_PAGE, WARN } from './operations.mjs';
import { done, regionFetch } from './server.mjs';

const { TOKEN, GROUP_ID, NUMBER } = process.env;

// README "Cache keys and identity": nothing to configure, every entity has an id.
const client = new ApolloClient({
  link: new HttpLink({
    uri: '/graphql',
    fetch: regionFetch,
    headers: { authorization: `Bearer ${TOKEN}` },
  }),
  cache: new InMemoryCache(),
});

const page = gql(GROUP_PAGE);
const variables = { id: GROUP_ID };
const first = await client.query({ query: page, variables });
const before = first.data.group.volunteers.edges.find((e) => e.node.number === NUMBER);
const answer = await client.mutate({ mutation: gql(WARN), variables: { number: NUMBER } });
if (answer.data.setVolunteerStatus.errors.length) throw new Error(JSON.stringify(answer.data));
const cached = client.readQuery({ query: page, variables });
const after = cached.group.volunteers.edges.find((e) => e.node.number === NUMBER);
done({ before: before.node.status, after: after.node.status, me: cached.me.username });
