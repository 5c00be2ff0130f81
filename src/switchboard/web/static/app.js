// The support chat: shows one served assistant (GET /v1/assistants) with its title, colour
// and greeting, picks a customer when that assistant acts for one, sends messages to the
// assistant API and renders its streamed events (tokens, citations, order lookups, handoffs),
// with thumbs up and down under each answer (feedback.js).
//
// A page embedding the widget configures it through attributes of <main class="chat">:
//   data-assistant       the assistant to talk to (default: the server's default); without
//                        it the demo page offers a picker of the served assistants
// and a shop's page signs its customer in through these:
//   data-customer-token  the customer token its backend minted (switchboard assistant token,
//                        POST /v1/admin/customer-tokens), sent as x-customer-token
//   data-api-key         an API key with the assistant scope, sent as a Bearer token
//   data-customer-name   shown in place of the demo's customer picker (optional)
// Without a token the page is the demo: it picks a customer from /customers and mints a
// token for them at /demo/token (both only in demo mode), else sends the customer id alone.
// An assistant whose end user is none needs no customer: the API key alone is sent.

import { readEvents } from "./sse.js";
import {
  answerNodes, el, errorMessage, fallbackNotice, handoffBanner, isRefusal, sourcesList,
  toolResult, userMessage,
} from "./render.js";
import { feedbackBar } from "./feedback.js";

const API = "/v1/assistant";
const ASSISTANTS = "/v1/assistants";
const HANDOFF_REQUEST = "I'd like to talk to a person, please.";
const HANDOFF_OFFERS = 'button[data-testid="handoff-accept"]:not([data-accepted])';
const SIGNED_IN = "(signed-in)"; // the page token's customer; no customer id has brackets
const NO_CUSTOMER = "(none)"; // the end user of an assistant that acts for no customer
const GREETING = "Ask a question to start."; // for an assistant whose definition has none
const TOKEN_RENEWAL_S = 60; // a demo token this close to its expiry is minted anew

const $ = (id) => document.getElementById(id);
const embedding = document.querySelector("main.chat")?.dataset ?? {};
const page = {
  assistant: embedding.assistant || null,
  apiKey: embedding.apiKey || null,
  customerToken: embedding.customerToken || null,
  customerName: embedding.customerName || "Signed in",
};
const ui = {
  title: $("chat-title"),
  subtitle: $("chat-subtitle"),
  mark: $("brand-mark"),
  assistant: $("assistant-select"),
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
  assistant: null, // the served assistant on screen: { name, end_user, widget, ... }
  customerId: null,
  sessions: new Map(), // conversation key (assistant, customer) → its session_id
  demoTokens: new Map(), // customer_id → promise of { token, expires_at } (or null)
  stream: null, // the AbortController of the answer being streamed
  served: new Map(), // name → the served assistant, from GET /v1/assistants
};

/** The key of the conversation on screen: its assistant and customer. */
function conversationKey() {
  return `${state.assistant?.name} ${state.customerId}`;
}

/** One assistant answer on screen for one conversation; the stream's events are applied to it. */
class AssistantTurn {
  constructor(conversation, onHandoffAccepted, rate) {
    this.conversation = conversation; // the conversation the message was sent in
    this.rate = rate; // (done event, { rating, comment }) → promise: feedback on this answer
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
    state.sessions.set(this.conversation, done.session_id);
    this.element.dataset.intent = done.intent;
    if (done.cache === "fallback") this.extras.append(fallbackNotice());
    this.finish();
    if (this.text !== "") this.element.append(feedbackBar((feedback) => this.rate(done, feedback)));
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
  const { assistant, customerId } = state;
  if (state.stream !== null || customerId === null || message === "") return;
  const conversation = conversationKey();
  ui.emptyState.hidden = true;
  ui.messages.append(userMessage(message));
  const turn = new AssistantTurn(conversation, () => send(HANDOFF_REQUEST),
    (done, feedback) => rateAnswer(assistant, customerId, done, feedback));
  ui.messages.append(turn.element);
  scrollToEnd();

  const controller = new AbortController();
  state.stream = controller;
  setStreaming(true);
  try {
    const { token, named } = await credentials(customerId);
    const response = await fetch(`${API}/chat`, {
      method: "POST",
      headers: apiHeaders(token, { "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({
        assistant: assistant.name,
        customer_id: named ?? undefined, // else the token names the customer
        message,
        session_id: state.sessions.get(conversation) ?? null,
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

/** Who a request is for: the customer's token, and their id when the page picked it. */
async function credentials(customerId) {
  const named = customerId !== SIGNED_IN && customerId !== NO_CUSTOMER;
  const token = named ? await demoToken(customerId) : customerToken(customerId);
  return { token, named: named ? customerId : null };
}

/** Sends a rating (and comment) of one answer, the `done` event's session and turn. */
async function rateAnswer(assistant, customerId, { session_id, turn_id }, feedback) {
  const { token, named } = await credentials(customerId);
  const url = `${API}/sessions/${encodeURIComponent(session_id)}/turns/${turn_id}/feedback`;
  const response = await fetch(url, {
    method: "POST",
    headers: apiHeaders(token, { "Content-Type": "application/json" }),
    body: JSON.stringify({ assistant: assistant.name, customer_id: named ?? undefined, ...feedback }),
  });
  if (!response.ok) throw new Error(await errorText(response));
}

/** The page's customer token for its signed-in customer; none for no customer. */
function customerToken(customerId) {
  return customerId === SIGNED_IN ? page.customerToken : null;
}

/** Clears the screen and forgets the conversation's session: the next message starts anew. */
function newConversation() {
  state.stream?.abort();
  state.stream = null;
  state.sessions.delete(conversationKey());
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
    if (state.assistant?.end_user !== "customer") return; // switched away meanwhile
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

/** Shows a picker with its label, or hides both. */
function showPicker(select, shown) {
  select.hidden = !shown;
  for (const label of select.labels) label.hidden = !shown;
}

/** The assistant's look from its definition: title, accent colour, greeting. */
function showLook({ title, description, widget }) {
  document.title = widget.title;
  ui.title.textContent = widget.title;
  ui.mark.textContent = widget.title.slice(0, 1).toUpperCase();
  ui.subtitle.textContent = description || title;
  ui.emptyState.textContent = widget.greeting || GREETING;
  document.documentElement.style.setProperty("--brand", widget.accent);
}

/** Puts the assistant on screen in a new conversation, with its customer when it has one. */
async function useAssistant(assistant) {
  state.assistant = assistant;
  state.customerId = null; // until its customer is known: nothing can be sent
  newConversation();
  showLook(assistant);
  const forCustomers = assistant.end_user === "customer";
  showPicker(ui.customer, forCustomers);
  if (!forCustomers) {
    state.customerId = NO_CUSTOMER;
    setStreaming(false);
  } else if (page.customerToken) showSignedIn();
  else await loadCustomers();
}

/** The served assistants: the page's (or the server's default) on screen; on the demo
 * page (no assistant, no customer token) a picker of them all when there are several. */
async function loadAssistants() {
  try {
    const response = await fetch(ASSISTANTS, { headers: apiHeaders(null) });
    if (!response.ok) throw new Error(await errorText(response));
    const { default: fallback, data } = await response.json();
    const name = page.assistant ?? fallback;
    const chosen = data.find((assistant) => assistant.name === name);
    if (chosen === undefined) throw new Error(`no assistant is named "${name}"`);
    state.served = new Map(data.map((assistant) => [assistant.name, assistant]));
    ui.assistant.replaceChildren(...data.map((assistant) =>
      el("option", { value: assistant.name, textContent: assistant.widget.title })));
    ui.assistant.value = chosen.name;
    showPicker(ui.assistant, page.assistant === null && !page.customerToken && data.length > 1);
    await useAssistant(chosen);
  } catch (error) {
    ui.customer.replaceChildren(el("option", { value: "", textContent: "No assistant" }));
    ui.messages.append(errorMessage(`Couldn't load the assistant: ${error.message}`));
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
ui.assistant.addEventListener("change", () => useAssistant(state.served.get(ui.assistant.value)));
ui.newConversation.addEventListener("click", newConversation);

loadAssistants();
