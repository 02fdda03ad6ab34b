import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

// SHA-256 in hex with the browser's WebCrypto (Node 20 has it too).
async function sha256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function createApolloClient(uri, getToken = () => null) {
  const auth = new SetContextLink(({ headers }) => {
    const token = getToken();
    return { headers: token ? { ...headers, Authorization: `Bearer ${token}` } : headers };
  });
  return new ApolloClient({
    link: ApolloLink.from([
      auth,
      // Hash first; the full query only when the server does not know the hash.
      // Queries go by GET, so anonymous ones can be cached by the browser or a CDN.
      new PersistedQueryLink({ sha256, useGETForHashedQueries: true }),
      new HttpLink({ uri }), // no credentials: "include" — the API takes a bearer token
    ]),
    cache: new InMemoryCache(),
  });
}
