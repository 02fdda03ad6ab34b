// Apollo Client and urql, configured as the README's snippets, against a region
// that runs only trusted documents (snippets/operations.graphql registered):
// each registered operation goes by its hash alone and runs at once; a query
// that is not registered is refused. Prints what each client saw and sent.
import { hostUrl } from "./localhost.mjs";
import { readFileSync } from "node:fs";
import { Kind, parse, visit } from "graphql";
import { createApolloClient } from "./snippets/apollo-client.mjs";
import { createUrqlClient } from "./snippets/urql-client.mjs";

const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === "string" ? input : input.url);
  const body = init.body ? JSON.parse(init.body) : null;
  sent.push({
    method: (init.method || "GET").toUpperCase(),
    query: Boolean(body ? body.query : url.searchParams.get("query")),
  });
  return realFetch(input, init);
};

// One document per operation, with the fragments it uses (as a front-end's files hold them).
const file = parse(readFileSync("snippets/operations.graphql", "utf8"));
const fragments = Object.fromEntries(
  file.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
);
function operation(name) {
  const op = file.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION && d.name.value === name);
  const used = new Set();
  const collect = (node) =>
    visit(node, {
      FragmentSpread(spread) {
        if (!used.has(spread.name.value)) {
          used.add(spread.name.value);
          collect(fragments[spread.name.value]);
        }
      },
    });
  collect(op);
  return { kind: Kind.DOCUMENT, definitions: [op, ...[...used].map((n) => fragments[n])] };
}

const uri = hostUrl(process.argv[2]);
const code = process.argv[3];
const unregistered = parse("query NotRegistered { region { code } }");
const out = {};

const apollo = createApolloClient(uri);
out.apollo = {
  policy: (await apollo.query({ query: operation("RegionPolicy") })).data.region.name,
  verify: (await apollo.query({ query: operation("VerifyCertificate"), variables: { code } })).data
    .verifyCertificate,
  refused: (await apollo.query({ query: unregistered, errorPolicy: "all" })).error?.errors?.map(
    (e) => e.extensions?.code,
  ) ?? [String((await apollo.query({ query: unregistered }).catch((e) => e)))],
  sent: sent.splice(0),
};

const urql = createUrqlClient(uri);
const u1 = await urql.query(operation("RegionPolicy"), {}).toPromise();
const u2 = await urql.query(operation("VerifyCertificate"), { code }).toPromise();
const u3 = await urql.query(unregistered, {}).toPromise();
out.urql = {
  policy: u1.data?.region?.name ?? String(u1.error),
  verify: u2.data ? u2.data.verifyCertificate : String(u2.error),
  refused: u3.error?.graphQLErrors?.map((e) => e.extensions?.code) ?? [String(u3.error)],
  sent: sent.splice(0),
};
console.log(JSON.stringify(out));
