import strawberry


@strawberry.type
class RecordsQuery:
    @strawberry.field
    def records_placeholder(self) -> bool:
        return True


@strawberry.type
class RecordsMutation:
    @strawberry.mutation
    def records_placeholder(self) -> bool:
        return True
