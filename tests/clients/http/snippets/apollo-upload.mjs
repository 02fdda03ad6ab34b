import { ApolloClient, ApolloLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import UploadHttpLink from "apollo-upload-client/UploadHttpLink.mjs";

// Files (a File or Blob in the variables) go as a GraphQL multipart request; every
// other operation as plain JSON. The server takes uploads on a region's /graphql.
export function createUploadClient(uri, getToken = () => null) {
  const auth = new SetContextLink(({ headers }) => {
    const token = getToken();
    return { headers: token ? { ...headers, Authorization: `Bearer ${token}` } : headers };
  });
  return new ApolloClient({
    link: ApolloLink.from([auth, new UploadHttpLink({ uri })]),
    cache: new InMemoryCache(),
  });
}
