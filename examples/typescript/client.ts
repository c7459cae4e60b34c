// A client of datadivr's demo protocol, typed by its declarations: save them beside it with
// `datadivr schema typescript --out examples/typescript/protocol.d.ts` (or from the server's
// GET /protocol.d.ts), then `tsc --strict --noEmit examples/typescript/client.ts`. It sends
// every event a client may send, narrows every frame it may receive, and shows what does not
// compile (each `@ts-expect-error` line). The socket is left out: `send` is declared only.
// --8<-- [start:send]
import type { ClientFrame, EventMap, Events, ServerFrame, SumEventMessage } from "./protocol";

declare function send(frame: ClientFrame): void;

send({ event_name: "sum_event", payload: { numbers: [1, 2, 3] }, id: "m1" });
send({ event_name: "msg", payload: null, message: "Hello!", to: "others" });
send({ event_name: "msg", message: "Hello!", to: "all" });
// --8<-- [end:send]
send({ event_name: "ping", payload: { sent_at: "2026-11-26T12:00:00Z", nonce: "a1" } });
send({
  event_name: "pong",
  payload: { sent_at: "2026-11-26T12:00:00Z", received_at: "2026-11-26T12:00:01Z" },
  reply_to: "p1",
});
send({
  event_name: "scene_update",
  payload: {
    scene_id: "3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b",
    revision: 7,
    objects: [
      {
        id: "table-1",
        kind: "cube",
        transform: { position: { x: 0, y: 0.75, z: -2 }, rotation: { x: 0, y: 0, z: 0, w: 1 } },
        color: null,
      },
    ],
    removed: ["chair-3"],
  },
});


// @ts-expect-error: no such event
send({ event_name: "sum_events", payload: { numbers: [1] } });
// @ts-expect-error: only the server sends welcome
send({ event_name: "welcome", payload: { client_id: "c1" } });
// @ts-expect-error: the payload's numbers are required
send({ event_name: "sum_event", payload: {} });
// @ts-expect-error: the payload is required
send({ event_name: "sum_event" });
// @ts-expect-error: numbers, not strings
send({ event_name: "sum_event", payload: { numbers: ["1"] } });
// @ts-expect-error: the payload is a closed object
send({ event_name: "sum_event", payload: { numbers: [1], extra: true } });
// @ts-expect-error: the envelope is closed too
send({ event_name: "sum_event", payload: { numbers: [1] }, priority: 1 });
// @ts-expect-error: msg requires its message text
send({ event_name: "msg", payload: null });
// @ts-expect-error: ... as a string
send({ event_name: "msg", payload: null, message: null });
send({
  event_name: "scene_update",
  payload: {
    scene_id: "s",
    revision: 1,
    objects: [
      {
        id: "ball",
        // @ts-expect-error: not one of the object kinds
        kind: "cone",
        transform: { position: { x: 0, y: 0, z: 0 }, rotation: { x: 0, y: 0, z: 0, w: 1 } },
      },
    ],
  },
});

// --8<-- [start:receive]
/** What a client makes of every frame it may receive. */
export function receive(frame: ServerFrame): string {
  switch (frame.event_name) {
    case "welcome":
      return `connected as ${frame.payload.client_id}`;
    case "sum_handler_result":
      return `sum for ${frame.reply_to ?? "?"}: ${frame.payload.toFixed(2)}`;
    case "msg":
      return `${frame.from_id ?? "?"} says: ${frame.message.toUpperCase()}`;
    case "error":
      return [frame.message, ...(frame.payload.details ?? []).map((d) => d.path)].join("; ");
    case "ping":
      return frame.payload.sent_at;
    case "pong":
      return frame.payload.received_at;
    case "scene_update":
      return frame.payload.objects.map((o) => o.kind).join(", ");
    default: {
      const unreachable: never = frame;
      return unreachable;
    }
  }
}

// --8<-- [end:receive]

/** A request and the type of its reply, from the event table. */
type ReplyOf<E extends keyof Events> = Events[E]["reply"] extends keyof EventMap
  ? EventMap[Events[E]["reply"]]
  : never;
export const answer: ReplyOf<"sum_event"> = { event_name: "sum_handler_result", payload: 6 };
export const request: SumEventMessage = { event_name: "sum_event", payload: { numbers: [6] } };
// @ts-expect-error: sum_event is not a frame a client receives
export const received: ServerFrame = request;
