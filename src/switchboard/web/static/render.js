// DOM builders for the conversation. Model and API text only ever goes through
// textContent or attributes, never innerHTML.

const money = new Intl.NumberFormat("en-IE", { style: "currency", currency: "EUR" });
const day = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: "UTC" });
const moment = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
// "[1]", "[1, 2]" or "[1,2]": the markers the server recognises (assistant/citations.py).
const CITATION_MARKER = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
// "*Returns window*": the section a quoted answer names (assistant/quoting.py).
const EMPHASIS = /\*([^*\n]+)\*/g;

// A tool's failure (switchboard.tools.ToolFailure) as the customer reads it.
const TOOL_ERRORS = {
  unavailable: "That system is not answering right now, so I can't look it up.",
};

/** `el("p", {className: "x", dataset: {testid: "y"}}, "text", child)`: a new element. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { dataset = {}, role, ...rest } = props;
  Object.assign(node, rest);
  Object.assign(node.dataset, dataset);
  if (role) node.setAttribute("role", role);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** "in_transit" → "In transit". */
export function statusLabel(status) {
  const words = String(status ?? "unknown").replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function formatDate(text) {
  if (!text) return null;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return (/^\d{4}-\d{2}-\d{2}$/.test(text) ? day : moment).format(date);
}

export function formatMoney(amount) {
  return typeof amount === "number" ? money.format(amount) : null;
}

/** The URL if it is http(s) (or relative to this page), else null: no `javascript:` links. */
export function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function userMessage(text) {
  return el("article", { className: "message user", dataset: { testid: "message-user" } },
    el("p", { className: "bubble", textContent: text }));
}

function citationLink(citation, label) {
  const href = safeUrl(citation.url);
  if (href === null) return document.createTextNode(label);
  return el("a", {
    className: "citation", href, target: "_blank", rel: "noopener", title: citation.title,
    textContent: label, dataset: { testid: "citation", number: String(citation.number) },
  });
}

/** `[n]` as a link to citation n, or as text while n is not known. */
function citationNode(citations, number) {
  const label = `[${number}]`;
  const citation = citations.get(number);
  return citation === undefined ? document.createTextNode(label) : citationLink(citation, label);
}

/** Text with `*words*` (a quoted section's heading) shown emphasised, without the stars. */
function emphasised(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(EMPHASIS)) {
    nodes.push(text.slice(last, match.index), el("em", { dataset: { testid: "section" } }, match[1]));
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

/**
 * The answer as text and citation links: once one of its citations is known, a marker
 * becomes a `[n]` link per number, so "[1, 2]" reads "[1][2]".
 */
export function answerNodes(text, citations) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(CITATION_MARKER)) {
    const numbers = match[1].split(",").map(Number);
    if (!numbers.some((number) => citations.has(number))) continue;
    nodes.push(...emphasised(text.slice(last, match.index)), ...numbers.map((number) => citationNode(citations, number)));
    last = match.index + match[0].length;
  }
  nodes.push(...emphasised(text.slice(last)));
  return nodes;
}

/** The cited articles, each with the passage quoted from it. */
export function sourcesList(citations) {
  const sorted = [...citations.values()].sort((a, b) => a.number - b.number);
  const items = sorted.map((citation) => {
    const href = safeUrl(citation.url);
    const title = href === null
      ? el("span", { textContent: citation.title })
      : el("a", { href, target: "_blank", rel: "noopener", textContent: citation.title });
    const quote = citation.quote
      ? el("blockquote", { className: "quote", textContent: citation.quote, dataset: { testid: "quote" } })
      : null;
    return el("li", { value: citation.number, dataset: { testid: "source" } }, title, quote);
  });
  return el("div", { className: "sources" },
    el("h3", { textContent: "Sources" }), el("ol", {}, ...items));
}

function statusBadge(status) {
  return el("span", {
    className: `badge status-${String(status).replace(/[^a-z_]/g, "")}`,
    textContent: statusLabel(status),
    dataset: { testid: "order-status", status: String(status) },
  });
}

function facts(pairs) {
  const rows = pairs.filter(([, value]) => value !== null && value !== undefined && value !== "");
  return el("dl", { className: "facts" },
    ...rows.flatMap(([term, value]) => [el("dt", { textContent: term }), el("dd", { textContent: value })]));
}

function latestEvent(events) {
  if (!events?.length) return null;
  const latest = events.reduce((a, b) => (String(b.at) > String(a.at) ? b : a));
  const where = [latest.location, formatDate(latest.at)].filter(Boolean).join(" · ");
  return el("p", { className: "tracking-event", dataset: { testid: "tracking-event" } },
    el("span", { className: "label", textContent: "Latest update" }),
    el("span", { textContent: latest.description }),
    el("span", { className: "muted", textContent: where }));
}

export function orderCard(order) {
  const shipment = order.shipment ?? {};
  const items = (order.items ?? []).map((item) =>
    el("li", {},
      el("span", { textContent: `${item.qty} × ${item.name}` }),
      el("span", { className: "muted", textContent: formatMoney(item.unit_price_eur * item.qty) ?? "" })));
  return el("section", { className: "card order-card", dataset: { testid: "order-card", orderId: order.order_id } },
    el("header", {},
      el("h3", { textContent: `Order ${order.order_id}` }), statusBadge(order.status)),
    facts([
      ["Placed", formatDate(order.placed_at)],
      ["Carrier", shipment.carrier],
      ["Tracking", shipment.tracking_number],
      ["Estimated delivery", formatDate(shipment.estimated_delivery)],
      ["Total", formatMoney(order.total_eur)],
    ]),
    items.length ? el("ul", { className: "items" }, ...items) : null,
    latestEvent(shipment.events));
}

export function orderList(orders) {
  if (!orders.length) return notice("There are no orders on this account yet.", "order-list");
  const rows = orders.map((order) =>
    el("li", { dataset: { testid: "order-summary", orderId: order.order_id } },
      el("span", { className: "order-id", textContent: order.order_id }),
      statusBadge(order.status),
      el("span", { className: "muted", textContent: [
        formatDate(order.placed_at),
        `${order.item_count} item${order.item_count === 1 ? "" : "s"}`,
        formatMoney(order.total_eur),
      ].filter(Boolean).join(" · ") })));
  return el("section", { className: "card order-list", dataset: { testid: "order-list" } },
    el("h3", { textContent: "Your orders" }), el("ul", {}, ...rows));
}

function notice(text, testid, className = "notice") {
  return el("p", { className, textContent: text, dataset: { testid } });
}

/** Said under an answer served from the cache because the model could not answer. */
export function fallbackNotice() {
  return notice(
    "Our assistant is busy right now, so this is a saved answer to a similar question.",
    "cache-fallback", "notice warning");
}

/** A lookup that found nothing or failed: a notice that says what the answer usually says. */
export function isRefusal(result) {
  return !result.ok || (result.tool === "get_order" && result.data === null);
}

/** A tool_result event as a card or a short notice. */
export function toolResult(result) {
  if (!result.ok) {
    const text = TOOL_ERRORS[result.error] ?? "Looking that up failed. Please try again.";
    return notice(text, "tool-error", "notice warning");
  }
  if (result.tool === "get_order") {
    if (result.data === null) {
      const asked = result.arguments?.order_id;
      const which = asked ? `order ${asked}` : "that order";
      return notice(`I couldn't find ${which} on your account.`, "order-not-found");
    }
    return orderCard(result.data);
  }
  if (result.tool === "list_orders") return orderList(result.data?.orders ?? []);
  return null;
}

/**
 * The handoff banner; `onAccept` is called when an offered handoff is taken up. `said`: the
 * answer already says the handoff's message, so the banner does not repeat it.
 */
export function handoffBanner(handoff, onAccept, said = false) {
  const created = handoff.ticket_id !== null && handoff.ticket_id !== undefined;
  const banner = el("aside", {
    className: `handoff ${created ? "created" : "offered"}`,
    role: "status",
    dataset: { testid: "handoff", state: created ? "ticket" : "offered" },
  },
    el("strong", { textContent: created ? "Passed to our support team" : "Want a person to help?" }),
    said ? null : el("p", { textContent: handoff.message }));
  if (created) {
    banner.append(el("p", { className: "ticket" },
      "Ticket ", el("code", { textContent: handoff.ticket_id, dataset: { testid: "ticket-id" } })));
  } else {
    const button = el("button", {
      type: "button", className: "ghost", textContent: "Talk to a person",
      dataset: { testid: "handoff-accept" },
    });
    button.addEventListener("click", () => {
      button.dataset.accepted = "true";
      button.disabled = true;
      onAccept();
    }, { once: true });
    banner.append(button);
  }
  return banner;
}

export function errorMessage(text) {
  return el("p", { className: "error", role: "alert", textContent: text, dataset: { testid: "error" } });
}
