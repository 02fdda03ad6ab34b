// Uploads a file with Apollo Client's upload link (the README's snippet) and with
// urql (whose fetch sends a File or Blob variable as a multipart request by itself),
// to the authority's importTransferPackage: the server reads the file and answers
// the payload's typed error about its content.
import { hostUrl } from "./localhost.mjs";
import { gql } from "@apollo/client";
import { createUploadClient } from "./snippets/apollo-upload.mjs";
import { createUrqlClient } from "./snippets/urql-client.mjs";

const uri = hostUrl(process.argv[2]);
const token = process.env.TOKEN;
const IMPORT = `mutation Import($file: Upload!) { importTransferPackage(file: $file) {
  alreadyImported errors { field code message } } }`;
const file = () => new Blob(['{"package": {"format": "not-a-package"}}'], { type: "application/json" });

const apollo = createUploadClient(uri, () => token);
const a = await apollo.mutate({ mutation: gql(IMPORT), variables: { file: file() } });
const urql = createUrqlClient(uri, () => token);
const u = await urql.mutation(IMPORT, { file: file() }).toPromise();
if (u.error) throw u.error;
console.log(JSON.stringify({
  apollo: a.data.importTransferPackage.errors,
  urql: u.data.importTransferPackage.errors,
}));
