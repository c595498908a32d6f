// What went wrong, in words a user understands, and whether trying again by
// itself can help.
import { TodoApiError, type Problem } from "todo-api-client";

import { SessionEndedError } from "./token";

/** A failed call: the problem document the service answered with. */
export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiProblem";
  }
}

/** The client package's helpers (the tag calls) throw its own error type: the same, for `describe`. */
function asProblem(error: unknown): unknown {
  if (error instanceof TodoApiError) {
    return new ApiProblem(error.problem ?? { type: "about:blank", title: error.message, status: error.status, detail: error.message });
  }
  return error;
}

export type Trouble = {
  /** unreachable: no answer at all; busy: 429/503; session: signed out; server: a 5xx; refused: anything else. */
  kind: "unreachable" | "busy" | "session" | "server" | "refused";
  message: string;
  /** Trying again later may succeed without the user changing anything. */
  transient: boolean;
};

export function describe(failure: unknown): Trouble {
  const error = asProblem(failure);
  if (error instanceof SessionEndedError || (error instanceof ApiProblem && error.problem.status === 401)) {
    return { kind: "session", message: "Your session ended — sign in again.", transient: false };
  }
  if (error instanceof ApiProblem) {
    const { status } = error.problem;
    if (status === 429 || status === 503) {
      return { kind: "busy", message: "The task service is busy — retrying…", transient: true };
    }
    if (status >= 500) {
      return { kind: "server", message: "The task service had a problem — retrying…", transient: true };
    }
    return { kind: "refused", message: error.problem.detail || error.problem.title, transient: false };
  }
  // fetch rejects with a TypeError when nothing answered (the service down,
  // the network gone, a CORS refusal).
  return { kind: "unreachable", message: "Can't reach the task service — retrying…", transient: true };
}

/** The same, for a write the user made: it was not saved, and says so. */
export function describeWrite(error: unknown, what: string): string {
  const trouble = describe(error);
  switch (trouble.kind) {
    case "unreachable":
      return `Can't reach the task service: ${what} was not saved. Try again in a moment.`;
    case "busy":
      return `The task service is busy: ${what} was not saved. Try again in a moment.`;
    case "server":
      return `The task service had a problem: ${what} was not saved. Try again.`;
    default:
      return trouble.message;
  }
}
