// Apollo Client's PersistedQueryLink and urql's persistedExchange, configured
// as the README's snippets, against a region: the first send of a query falls
// back to the full text, the second is the hash alone (by GET). Prints what
// went over the wire for each client.
import { hostUrl } from "./localhost.mjs";
import { gql } from "@apollo/client";
import { createApolloClient } from "./snippets/apollo-client.mjs";
import { createUrqlClient } from "./snippets/urql-client.mjs";

const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === "string" ? input : input.url);
  const method = (init.method || "GET").toUpperCase();
  const body = init.body ? JSON.parse(init.body) : null;
  const response = await realFetch(input, init);
  sent.push({
    method,
    query: Boolean(body ? body.query : url.searchParams.get("query")),
    hash: Boolean((body ? JSON.stringify(body.extensions || {}) : url.searchParams.get("extensions") || "").includes("sha256Hash")),
    status: response.status,
    cacheControl: response.headers.get("cache-control"),
    etag: response.headers.get("etag"),
  });
  return response;
};

const uri = hostUrl(process.argv[2]);
const unique = `n${Date.now()}${Math.floor(Math.random() * 1e6)}`; // a query the server never saw

async function apollo() {
  const client = createApolloClient(uri);
  const query = gql`query ApolloPolicy { region { ${unique}: name code } }`;
  const answers = [];
  for (let i = 0; i < 2; i++) {
    const { data, error } = await client.query({ query, fetchPolicy: "network-only" });
    if (error) throw error;
    answers.push(data.region[unique]);
  }
  return answers;
}

async function urql() {
  const client = createUrqlClient(uri);
  const query = `query UrqlPolicy { region { ${unique}u: name code } }`;
  const answers = [];
  for (let i = 0; i < 2; i++) {
    const result = await client.query(query, {}, { requestPolicy: "network-only" }).toPromise();
    if (result.error) throw result.error;
    answers.push(result.data.region[`${unique}u`]);
  }
  return answers;
}

const out = {};
out.apollo = { answers: await apollo(), sent: sent.splice(0) };
out.urql = { answers: await urql(), sent: sent.splice(0) };
console.log(JSON.stringify(out));
