// A small client of examples/chatroom, typed by its protocol.d.ts: it sends every event a
// client may send, narrows every frame it may receive, and fails to compile wrong frames.
import type { ClientFrame, Events, ServerFrame } from "./protocol";

declare function send(frame: ClientFrame): void;

send({ event_name: "join", payload: { nick: "ada" }, id: "j1" });
send({ event_name: "say", payload: null, message: "Hello, room!", to: "all" });
send({ event_name: "status", payload: { nick: "ada", state: "away", note: null } });
send({ event_name: "typing", payload: true });

// @ts-expect-error: no such event
send({ event_name: "leave", payload: null });
// @ts-expect-error: only the server sends the roster
send({ event_name: "roster", payload: { members: [] } });
// @ts-expect-error: join's nick is required
send({ event_name: "join", payload: {} });
// @ts-expect-error: not one of the states
send({ event_name: "status", payload: { nick: "ada", state: "gone" } });
// @ts-expect-error: the payload is a closed object
send({ event_name: "join", payload: { nick: "ada", admin: true } });
// @ts-expect-error: say requires its message text
send({ event_name: "say", payload: null });
// @ts-expect-error: typing's payload is a boolean
send({ event_name: "typing", payload: "yes" });

/** What a client makes of every frame it may receive. */
export function receive(frame: ServerFrame): string {
  switch (frame.event_name) {
    case "welcome":
      return frame.payload.client_id;
    case "roster":
      return frame.payload.members.map((m) => m.nick).join(", ");
    case "say":
      return `${frame.from_id ?? "?"}: ${frame.message}`;
    case "status":
      return frame.payload.state === "here" ? "back" : (frame.payload.note ?? "away");
    case "typing":
      return frame.payload ? "typing…" : "";
    case "error":
      return frame.payload.code;
    default: {
      const unreachable: never = frame;
      return unreachable;
    }
  }
}

export const joinAnswer: Events["join"]["reply"] = "roster";
