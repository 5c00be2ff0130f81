// Thumbs up / thumbs down under a finished answer. A thumbs down is recorded at once and
// opens an optional comment box; sending the comment records the rating again with it (the
// server keeps one rating per answer, the last). Each button says whether it is pressed.

import { el } from "./render.js";

const COMMENT_CHARS = 1000; // the server's limit (assistant/feedback.py MAX_COMMENT_CHARS)
const RECORDED = "Thanks, your feedback was recorded.";
let bars = 0; // numbers each comment box's id (crypto.randomUUID needs https)

function thumb(rating, symbol, label) {
  const button = el("button", {
    type: "button", className: "ghost thumb", textContent: symbol, title: label,
    dataset: { testid: `feedback-${rating}` },
  });
  button.setAttribute("aria-label", label);
  button.setAttribute("aria-pressed", "false");
  return button;
}

/**
 * The feedback controls of one answer; `rate({ rating, comment })` sends them and rejects
 * with an Error whose message is shown.
 */
export function feedbackBar(rate) {
  const up = thumb("up", "👍", "Good answer");
  const down = thumb("down", "👎", "Bad answer");
  const status = el("span", { className: "feedback-status", role: "status", dataset: { testid: "feedback-status" } });
  const comment = el("textarea", {
    id: `feedback-comment-${++bars}`,
    rows: 2, maxLength: COMMENT_CHARS, placeholder: "What was wrong? (optional)",
    dataset: { testid: "feedback-comment" },
  });
  const label = el("label", { className: "visually-hidden", htmlFor: comment.id, textContent: "What was wrong with this answer?" });
  const form = el("form", { className: "feedback-comment", hidden: true, dataset: { testid: "feedback-form" } },
    label, comment, el("button", { type: "submit", className: "ghost", textContent: "Send feedback", dataset: { testid: "feedback-send" } }));
  const bar = el("div", { className: "feedback", role: "group", dataset: { testid: "feedback" } },
    up, down, status, form);
  bar.setAttribute("aria-label", "Rate this answer");

  async function record(rating, text = "") {
    status.textContent = "Sending…";
    try {
      await rate({ rating, comment: text });
    } catch (error) {
      status.textContent = `Not recorded: ${error.message}`;
      return false;
    }
    up.setAttribute("aria-pressed", String(rating === "up"));
    down.setAttribute("aria-pressed", String(rating === "down"));
    bar.dataset.recorded = rating;
    status.textContent = RECORDED;
    return true;
  }

  up.addEventListener("click", async () => {
    if (await record("up")) form.hidden = true;
  });
  down.addEventListener("click", async () => {
    if (await record("down")) {
      form.hidden = false;
      comment.focus();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await record("down", comment.value.trim())) form.hidden = true;
  });
  return bar;
}
