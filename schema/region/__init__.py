"""A region's GraphQL API, served at /graphql on each region's domains.

Each domain module contributes a query and a mutation class; they are merged
here into the two root types (Saleor-style: one module per domain).
"""

from strawberry.tools import merge_types

from schema.compiled import CompiledQueries
from schema.hardening import Schema, config, extensions
from schema.region.certificates import CertificatesMutation, CertificatesQuery
from schema.region.exports import ExportsMutation
from schema.region.imports import ImportsMutation
from schema.region.interop import InteropMutation, InteropQuery
from schema.region.mutations import RegionMutation
from schema.region.nodes import NodeQuery
from schema.region.oversight import OversightQuery
from schema.region.queries import RegionQuery
from schema.region.recognition import RecognitionMutation, RecognitionQuery
from schema.region.records import RecordsMutation, RecordsQuery
from schema.region.statistics import StatisticsMutation, StatisticsQuery
from schema.region.timebank import TimeBankMutation, TimeBankQuery

QUERIES = (
    RegionQuery,
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
    RegionMutation,
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
