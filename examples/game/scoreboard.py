from game_protocol import JoinMessage, JoinPayload, Team


def blue_join(nickname: str | None = None) -> JoinMessage:
    team: Team = "blue"
    if nickname is None:
        return JoinMessage(payload=JoinPayload(team=team))
    return JoinMessage(payload=JoinPayload(team=team, nickname=nickname))


print(blue_join("ace").model_dump_json())
