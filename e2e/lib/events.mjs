// Reads the service's event stream (GET /api/events) from Node with fetch,
// as a frontend does, recording each message: `{ event, id, data }`, with
// `data` parsed from JSON (null for an id-only message).
export async function openEvents(address, token, { lastEventId } = {}) {
  const controller = new AbortController();
  const headers = { authorization: `Bearer ${token}`, accept: "text/event-stream" };
  if (lastEventId) headers["last-event-id"] = lastEventId;
  const response = await fetch(`${address}/api/events`, { headers, signal: controller.signal });
  const messages = [];
  const waiters = new Set();
  const settle = () => waiters.forEach((check) => check());

  const reading = (async () => {
    if (!response.ok || !response.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    let lastId = lastEventId ?? "";
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          const data = [];
          let fields = false;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue; // keep-alive
            const colon = line.indexOf(":");
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") event = value;
            else if (field === "data") data.push(value);
            else if (field === "id") lastId = value;
            else continue;
            fields = true;
          }
          if (fields) messages.push({ event, id: lastId, data: data.length ? JSON.parse(data.join("\n")) : null, at: Date.now() });
        }
        settle();
      }
    } catch (error) {
      if (error.name !== "AbortError") throw error;
    }
  })();

  return {
    status: response.status,
    headers: response.headers,
    /** The body of a refusal (problem+json), when the status is not 200. */
    problem: response.ok ? null : await response.json(),
    messages,
    /** The messages that carry data: `{ event, id, data }`. */
    events: () => messages.filter((m) => m.data !== null),
    /** The stream's cursor: the last id received. */
    cursor: () => messages.at(-1)?.id,
    /** Resolves with the first message (from `from` on) `match` accepts, or rejects after `ms`. */
    waitFor(match, { ms = 1000, from = 0 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.slice(from).find(match);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching message within ${ms} ms; got ${JSON.stringify(messages)}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async close() {
      controller.abort();
      await reading;
    },
  };
}
