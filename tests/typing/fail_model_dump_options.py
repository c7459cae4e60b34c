"""``model_dump`` and ``model_dump_json`` of generated models keep pydantic's typed options."""

from datadivr.demo import WelcomeMessage


def dump(message: WelcomeMessage) -> bytes:
    message.model_dump(exclude_unset="no")  # E: arg-type
    message.model_dump_json(indent="2")  # E: arg-type
    return message.model_dump_json()  # E: return-value
