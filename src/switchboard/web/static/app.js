// The Larkspur Outfitters support chat: picks a customer, sends messages to the assistant
// API and renders its streamed events (tokens, citations, order lookups, handoffs).
//
// A shop's page signs its customer in through attributes of <main class="chat">:
//   data-customer-token  the customer token its backend minted (switchboard assistant token,
//                        POST /v1/admin/customer-tokens), sent as x-customer-token
//   data-api-key         an API key with the assistant scope, sent as a Bearer token
//   data-customer-name   shown in place of the demo's customer picker (optional)
// Without a token the page is the demo: it picks a customer from /customers and mints a
// token for them at /demo/token (both only in demo mode), else sends the customer id alone.

import { readEvents } from "./sse.js";
import {
  answerNodes, el, errorMessage, fallbackNotice, handoffBanner, isRefusal, sourcesList,
  toolResult, userMessage,
} from "./render.js";

const API = "/v1/assistant";
const HANDOFF_REQUEST = "I'd like to talk to a person, please.";
const HANDOFF_OFFERS = 'button[data-testid="handoff-accept"]:not([data-accepted])';
const SIGNED_IN = "(signed-in)"; // the page token's customer; no customer id has brackets
const TOKEN_RENEWAL_S = 60; // a demo token this close to its expiry is minted anew

const $ = (id) => document.getElementById(id);
const embedding = document.querySelector("main.chat")?.dataset ?? {};
const page = {
  apiKey: embedding.apiKey || null,
  customerToken: embedding.customerToken || null,
  customerName: embedding.customerName || "Signed in",
};
const ui = {
  customer: $("customer-select"),
  newConversation: $("new-conversation"),
  messages: $("messages"),
  emptyState: $("empty-state"),
  status: $("status"),
  composer: $("composer"),
  input: $("message-input"),
  send: $("send-button"),
};

const state = {
  customerId: null,
  sessions: new Map(), // customer_id → session_id of the conversation on screen
  demoTokens: new Map(), // customer_id → promise of { token, expires_at } (or null)
  stream: null, // the AbortController of the answer being streamed
};

/** One assistant answer on screen for one customer; the stream's events are applied to it. */
class AssistantTurn {
  constructor(customerId, onHandoffAccepted) {
    this.customerId = customerId; // the customer the message was sent for
    this.text = "";
    this.finished = false;
    this.citations = new Map(); // number → citation event
    this.onHandoffAccepted = onHandoffAccepted;
    this.answer = el("p", { className: "bubble answer pending", dataset: { testid: "answer" } });
    this.extras = el("div", { className: "extras" });
    this.sources = null;
    // Notices of lookups that found nothing or failed, each with the answer's length when it
    // came: the answer says so itself, so a notice is shown only if nothing was said after it.
    this.refusals = [];
    this.element = el("article",
      { className: "message assistant", dataset: { testid: "message-assistant" } },
      this.answer, this.extras);
  }

  token({ text }) {
    this.text += text;
    this.renderAnswer();
  }

  citation(citation) {
    this.citations.set(citation.number, citation);
    this.renderAnswer();
    const list = sourcesList(this.citations);
    if (this.sources === null) this.element.append(list);
    else this.sources.replaceWith(list);
    this.sources = list;
  }

  tool_result(result) {
    const node = toolResult(result);
    if (node === null) return;
    if (isRefusal(result)) this.refusals.push({ node, said: this.text.length });
    else this.extras.append(node);
  }

  handoff(handoff) {
    const said = this.text.includes(handoff.message); // a ticket's text is the answer too
    const banner = handoffBanner(handoff, this.onHandoffAccepted, said);
    enableHandoffOffers(banner, state.stream === null);
    this.extras.append(banner);
  }

  done(done) {
    state.sessions.set(this.customerId, done.session_id);
    this.element.dataset.intent = done.intent;
    if (done.cache === "fallback") this.extras.append(fallbackNotice());
    this.finish();
  }

  error({ error }) {
    this.fail(error?.message ?? "Something went wrong.");
  }

  renderAnswer() {
    this.answer.classList.toggle("pending", this.text === "");
    this.answer.replaceChildren(...answerNodes(this.text, this.citations));
  }

  fail(message) {
    this.element.append(errorMessage(message));
    this.finish();
  }

  finish() {
    this.finished = true;
    this.answer.classList.remove("pending");
    if (this.text === "") this.answer.hidden = true;
    const unsaid = this.refusals.filter(({ said }) => said === this.text.length);
    this.extras.prepend(...unsaid.map(({ node }) => node));
    this.refusals = [];
  }
}

const EVENT_KINDS = new Set(["token", "citation", "tool_result", "handoff", "done", "error"]);

function scrollToEnd() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

/** Offered handoffs are taken up with a message of their own, so only between answers. */
function enableHandoffOffers(root, enabled) {
  for (const button of root.querySelectorAll(HANDOFF_OFFERS)) button.disabled = !enabled;
}

function setStreaming(streaming) {
  ui.input.disabled = streaming || state.customerId === null;
  ui.send.disabled = ui.input.disabled;
  enableHandoffOffers(ui.messages, !streaming);
  ui.status.textContent = streaming ? "The assistant is answering…" : "";
  ui.messages.setAttribute("aria-busy", String(streaming));
  if (!streaming) ui.input.focus();
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body?.error?.message) return body.error.message;
  } catch {
    // not JSON: fall through to the status line
  }
  return `The request failed (HTTP ${response.status}). Please try again.`;
}

/** Headers of an API call: the page's API key, and the customer's token when there is one. */
function apiHeaders(customerToken, extra = {}) {
  const headers = { ...extra };
  if (page.apiKey) headers.Authorization = `Bearer ${page.apiKey}`;
  if (customerToken) headers["x-customer-token"] = customerToken;
  return headers;
}

/** A demo token for the picked customer, minted once and again near its expiry; null when
 * the server mints none (not in demo mode): the customer id alone is sent then. */
async function demoToken(customerId) {
  const pending = state.demoTokens.get(customerId);
  const minted = pending ? await pending : null;
  if (minted && minted.expires_at - Date.now() / 1000 > TOKEN_RENEWAL_S) return minted.token;
  const request = mintDemoToken(customerId);
  state.demoTokens.set(customerId, request);
  return (await request)?.token ?? null;
}

async function mintDemoToken(customerId) {
  try {
    const response = await fetch(`${API}/demo/token`, {
      method: "POST",
      headers: apiHeaders(null, { "Content-Type": "application/json" }),
      body: JSON.stringify({ customer_id: customerId }),
    });
    return response.ok ? await response.json() : null;
  } catch (error) {
    console.error(error);
    return null;
  }
}

async function send(message) {
  const customerId = state.customerId;
  if (state.stream !== null || customerId === null || message === "") return;
  ui.emptyState.hidden = true;
  ui.messages.append(userMessage(message));
  const turn = new AssistantTurn(customerId, () => send(HANDOFF_REQUEST));
  ui.messages.append(turn.element);
  scrollToEnd();

  const controller = new AbortController();
  state.stream = controller;
  setStreaming(true);
  try {
    const signedIn = customerId === SIGNED_IN;
    const token = signedIn ? page.customerToken : await demoToken(customerId);
    const response = await fetch(`${API}/chat`, {
      method: "POST",
      headers: apiHeaders(token, { "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({
        customer_id: signedIn ? undefined : customerId, // the token names the customer
        message,
        session_id: state.sessions.get(customerId) ?? null,
      }),
      signal: controller.signal,
    });
    if (!response.ok) {
      turn.fail(await errorText(response));
      return;
    }
    for await (const { event, data } of readEvents(response)) {
      if (EVENT_KINDS.has(event)) turn[event](data);
      scrollToEnd();
    }
    if (!turn.finished) turn.fail("The answer was cut off. Please try again.");
  } catch (error) {
    if (!controller.signal.aborted) turn.fail("Couldn't reach the assistant. Please try again.");
    console.error(error);
  } finally {
    if (state.stream === controller) {
      state.stream = null;
      setStreaming(false);
    }
    scrollToEnd();
  }
}

/** Clears the screen and forgets the customer's session: the next message starts anew. */
function newConversation() {
  state.stream?.abort();
  state.stream = null;
  state.sessions.delete(state.customerId);
  ui.messages.replaceChildren(ui.emptyState);
  ui.emptyState.hidden = false;
  setStreaming(false);
}

/** The page signed its customer in: no picker, the token says who they are. */
function showSignedIn() {
  ui.customer.replaceChildren(el("option", { value: SIGNED_IN, textContent: page.customerName }));
  ui.customer.disabled = true;
  state.customerId = SIGNED_IN;
  newConversation();
}

async function loadCustomers() {
  try {
    const response = await fetch(`${API}/customers`, { headers: apiHeaders(null) });
    if (!response.ok) throw new Error(await errorText(response));
    const { data } = await response.json();
    ui.customer.replaceChildren(...data.map((customer) =>
      el("option", { value: customer.customer_id, textContent: `${customer.name} (${customer.customer_id})` })));
    ui.customer.disabled = data.length === 0;
    state.customerId = data[0]?.customer_id ?? null;
    newConversation();
  } catch (error) {
    ui.customer.replaceChildren(el("option", { value: "", textContent: "No customers" }));
    ui.messages.append(errorMessage(`Couldn't load customers: ${error.message}`));
  }
}

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const message = ui.input.value.trim();
  if (message === "" || state.stream !== null) return;
  ui.input.value = "";
  send(message);
});
ui.customer.addEventListener("change", () => {
  state.customerId = ui.customer.value || null;
  newConversation();
});
ui.newConversation.addEventListener("click", newConversation);

if (page.customerToken) showSignedIn();
else loadCustomers();
