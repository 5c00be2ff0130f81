// Server-sent events read from a fetch() response (EventSource cannot POST).
//
// A block is `event: <kind>` plus one or more `data: <line>` lines, ended by a blank line;
// blocks may be split anywhere across network chunks, so text is buffered until a blank
// line completes one.

const BLOCK_END = /\r?\n\r?\n/;

/** Parses one block's lines into {event, data} (data JSON-decoded), or null if it has none. */
export function parseBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === "" || line.startsWith(":")) continue; // blank or comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  return { event, data: JSON.parse(data.join("\n")) };
}

/** Yields {event, data} for each event of a text/event-stream response body. */
export async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let match;
      while ((match = BLOCK_END.exec(buffer)) !== null) {
        const parsed = parseBlock(buffer.slice(0, match.index));
        buffer = buffer.slice(match.index + match[0].length);
        if (parsed !== null) yield parsed;
      }
      if (done) break;
    }
    const last = parseBlock(buffer); // a final block without its blank line
    if (last !== null) yield last;
  } finally {
    reader.cancel().catch(() => {}); // closes the connection if the reader stopped early
  }
}
