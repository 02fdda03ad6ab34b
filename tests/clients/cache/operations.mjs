// The operations the cache scripts send: a group's page, and a mutation whose answer
// is an object already in that page.
export const GROUP_PAGE = `query GroupPage($id: ID!) {
  me { id username }
  region { id code name }
  group(id: $id) {
    id name
    volunteers(first: 20) {
      edges { cursor node { id number name status } membership { id status } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}`;

export const WARN = `mutation Warn($number: String!) {
  setVolunteerStatus(number: $number, status: WARNED, reason: "迟到三次") {
    volunteer { id number status }
    errors { code message }
  }
}`;
