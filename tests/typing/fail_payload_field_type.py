"""Payload models are typed in their constructor (pydantic mypy plugin, ``init_typed``)."""

from datadivr.demo import SumEventPayload

payload = SumEventPayload(numbers="x")  # E: arg-type
extra = SumEventPayload(numbers=[1.0], total=1.0)  # E: call-arg
