"""A region's GraphQL API, served at /graphql on each region's domains.

One package per domain (accounts, volunteers, groups, projects, records,
recognition, certificates, interop), each with its ``types``, ``queries`` and
``mutations``; smaller domains are one module (timebank, statistics, oversight,
exports, imports). Each contributes a query and a mutation class; they are merged
here into the two root types (Saleor-style), in this order (the root fields'
order in the exported schema). Shared machinery: ``auth`` (the caller), ``fields``
(declaring fields), ``pagination`` (pages and cursors), ``prefetch`` (loading what
a query selects), ``nodes`` (``node(id:)``).
"""

from strawberry.tools import merge_types

from schema.compiled import CompiledQueries
from schema.hardening import Schema, config, extensions
from schema.region import prefetch
from schema.region.accounts.mutations import AccountsMutation
from schema.region.accounts.queries import AccountsQuery
from schema.region.certificates.mutations import CertificatesMutation
from schema.region.certificates.queries import CertificatesQuery
from schema.region.exports import ExportsMutation
from schema.region.groups.mutations import GroupsMutation
from schema.region.groups.queries import GroupsQuery
from schema.region.imports import ImportsMutation
from schema.region.interop.mutations import InteropMutation
from schema.region.interop.queries import InteropQuery
from schema.region.nodes import NodeQuery
from schema.region.oversight import OversightQuery
from schema.region.projects.mutations import ProjectsMutation
from schema.region.projects.queries import ProjectsQuery
from schema.region.recognition.mutations import RecognitionMutation
from schema.region.recognition.queries import RecognitionQuery
from schema.region.records.mutations import RecordsMutation
from schema.region.records.queries import RecordsQuery
from schema.region.statistics import StatisticsMutation, StatisticsQuery
from schema.region.timebank import TimeBankMutation, TimeBankQuery
from schema.region.volunteers.mutations import VolunteersMutation
from schema.region.volunteers.queries import VolunteersQuery

QUERIES = (
    AccountsQuery,
    VolunteersQuery,
    GroupsQuery,
    ProjectsQuery,
    RecordsQuery,
    RecognitionQuery,
    CertificatesQuery,
    InteropQuery,
    OversightQuery,
    TimeBankQuery,
    StatisticsQuery,
    NodeQuery,
)
MUTATIONS = (
    AccountsMutation,
    VolunteersMutation,
    GroupsMutation,
    ProjectsMutation,
    RecordsMutation,
    RecognitionMutation,
    CertificatesMutation,
    InteropMutation,
    TimeBankMutation,
    StatisticsMutation,
    ExportsMutation,
    ImportsMutation,
)

schema = Schema(
    query=merge_types("Query", QUERIES),
    mutation=merge_types("Mutation", MUTATIONS),
    # Compiled execution runs last, after the limits have validated the query.
    extensions=[*extensions(), CompiledQueries],
    config=config(),
)
prefetch.bind(schema)
