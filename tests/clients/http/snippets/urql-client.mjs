import { Client, cacheExchange, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";

export function createUrqlClient(url, getToken = () => null) {
  return new Client({
    url,
    exchanges: [
      cacheExchange,
      // Hash first (by GET for queries); the full query only on PersistedQueryNotFound.
      persistedExchange({ preferGetForPersistedQueries: true }),
      fetchExchange,
    ],
    fetchOptions: () => {
      const token = getToken();
      return token ? { headers: { Authorization: `Bearer ${token}` } } : {};
    },
  });
}
