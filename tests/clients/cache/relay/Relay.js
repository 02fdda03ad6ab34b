// The documents relay-compiler compiles (against schema/schema.graphql, as exported)
// for relay.mjs; graphql`` is only a marker here, the script loads the artifacts.
const graphql = String.raw;

// A group's nested page, read back from the store exactly as the server sent it.
graphql`
  query RelayNestedPageQuery($id: ID!) {
    region { id code name }
    group(id: $id) {
      id
      name
      projects { id name status }
      members { id status volunteer { id number } }
      volunteers(first: 20) {
        edges {
          cursor
          node { id number name status records(first: 5) { edges { cursor node { id hours state } } } }
          membership { id status group { id name } }
        }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`;

// The README's Relay example: a group's volunteers, paginated with @connection and
// refetched through node(id:).
graphql`
  query RelayGroupQuery($id: ID!) {
    group(id: $id) { id name ...RelayGroupVolunteers_group }
  }
`;

graphql`
  fragment RelayGroupVolunteers_group on VolunteerGroup
  @refetchable(queryName: "RelayGroupVolunteersPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: 2 }, cursor: { type: "String" }) {
    volunteers(first: $count, after: $cursor) @connection(key: "RelayGroupVolunteers_volunteers") {
      edges { node { id number } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
