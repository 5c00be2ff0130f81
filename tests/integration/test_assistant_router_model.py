"""The semantic router with the real embedding model (all-MiniLM-L6-v2, int8 as deployed)
on held-out messages written separately from the shop definition's intent examples: other
wording, other products, other countries. It guards the examples and the default threshold; run with
``-s`` to see the score distributions the threshold was chosen from.

The set came in four batches, each written before the router had seen it; the examples
were then revised for the kinds of message a batch exposed (never by copying them). On a
batch seen for the first time the router scored 89-93% (82 of 90 over batches 2-4), so
expect about 91% on new wording; the whole set, now partly seen, scores 94.5-95%."""

from __future__ import annotations

import functools
import statistics

import pytest

from switchboard.assistant.router import DEFAULT_THRESHOLD, SemanticRouter
from switchboard.assistant.types import Route
from switchboard.config import Settings
from switchboard.models.embedding import prepare_embedding_model
from switchboard.rag.embedder import EmbedderSettings, OnnxEmbedder
from tests.unit.demo_shop import EXAMPLES, ORDER_IDS, SHOP, Intent

pytestmark = pytest.mark.integration

HELD_OUT: tuple[tuple[str, Intent], ...] = (
    # order_status
    ("Any news on LK-473920? Ordered it ten days ago.", Intent.ORDER_STATUS),
    ("hi, my rain jacket hasn't come yet, can you look into it", Intent.ORDER_STATUS),
    ("has lk 204981 been sent out", Intent.ORDER_STATUS),
    ("The parcel tracker shows no movement since Monday", Intent.ORDER_STATUS),
    ("Courier claims it was handed over but I never received anything", Intent.ORDER_STATUS),
    ("is my trekking pole order on the way or not", Intent.ORDER_STATUS),
    ("I need to know when LK-650112 will get to me", Intent.ORDER_STATUS),
    ("what stage is my purchase at right now?", Intent.ORDER_STATUS),
    ("My delivery should have been here by now, what's going on?", Intent.ORDER_STATUS),
    # returns_refunds
    ("These walking shoes are too tight, how can I send them back?", Intent.RETURNS_REFUNDS),
    ("Still waiting for my money after returning the rucksack", Intent.RETURNS_REFUNDS),
    ("could I trade my medium fleece for a large", Intent.RETURNS_REFUNDS),
    ("The buckle on my backpack snapped on the first trip", Intent.RETURNS_REFUNDS),
    ("the stove in LK-318274 came with a dent and a cracked valve", Intent.RETURNS_REFUNDS),
    ("I received someone else's order instead of my gaiters", Intent.RETURNS_REFUNDS),
    ("Is there a guarantee on the insulated jacket?", Intent.RETURNS_REFUNDS),
    ("what's the deadline for sending stuff back", Intent.RETURNS_REFUNDS),
    ("Will you mend a ripped sleeping bag?", Intent.RETURNS_REFUNDS),
    # shipping
    ("What's the delivery time to Spain?", Intent.SHIPPING),
    ("do you send parcels to canada", Intent.SHIPPING),
    ("Do I pay extra import charges when ordering to Zurich?", Intent.SHIPPING),
    ("How much is postage for a single pair of socks?", Intent.SHIPPING),
    ("At what order value does delivery become free?", Intent.SHIPPING),
    ("Can I get it faster with a premium shipping option?", Intent.SHIPPING),
    ("What time do I have to order by for it to go out the same day?", Intent.SHIPPING),
    ("which delivery company brings the parcels", Intent.SHIPPING),
    ("how many days until things arrive in the netherlands usually", Intent.SHIPPING),
    # account
    ("I can't remember my login details", Intent.ACCOUNT),
    ("The authenticator app codes are not accepted anymore", Intent.ACCOUNT),
    ("how to switch the e-mail I registered with", Intent.ACCOUNT),
    ("I'd like you to erase my customer profile completely", Intent.ACCOUNT),
    ("please take me off your mailing list", Intent.ACCOUNT),
    ("Signing in fails every time even after a reset", Intent.ACCOUNT),
    ("Where do I edit my address book in my profile?", Intent.ACCOUNT),
    ("I never got the 10% for joining the newsletter", Intent.ACCOUNT),
    # payments
    ("Which ways can I pay at checkout?", Intent.PAYMENTS),
    ("Is Google Pay an option?", Intent.PAYMENTS),
    ("The bank refused the transaction, what now?", Intent.PAYMENTS),
    ("My company needs a proper invoice showing VAT", Intent.PAYMENTS),
    ("the voucher code SUMMER10 gives an error", Intent.PAYMENTS),
    ("what is the balance on my gift card", Intent.PAYMENTS),
    ("Another shop sells this tent for less, will you match it?", Intent.PAYMENTS),
    ("Are students eligible for any reduction?", Intent.PAYMENTS),
    ("I see two identical charges on my bank statement", Intent.PAYMENTS),
    # cancellation
    ("I no longer need the order I placed, please call it off", Intent.CANCELLATION),
    ("stop LK-902117 before it ships please", Intent.CANCELLATION),
    ("Can I alter the size on an order I just made?", Intent.CANCELLATION),
    ("I typed the wrong street, can you update the address before dispatch?", Intent.CANCELLATION),
    ("Please take the gloves out of my order, I only want the hat", Intent.CANCELLATION),
    ("Is it possible to withdraw my order?", Intent.CANCELLATION),
    ("I accidentally ordered twice, scrap the duplicate", Intent.CANCELLATION),
    # human_handoff
    ("Can I chat with an actual employee?", Intent.HUMAN_HANDOFF),
    ("put me through to a real member of staff", Intent.HUMAN_HANDOFF),
    ("I'm fed up, I need someone senior to deal with this", Intent.HUMAN_HANDOFF),
    ("Is there a number I can ring?", Intent.HUMAN_HANDOFF),
    ("no more bots, a person please", Intent.HUMAN_HANDOFF),
    ("I want to lodge an official complaint with your team", Intent.HUMAN_HANDOFF),
    ("have a staff member contact me about LK-771203", Intent.HUMAN_HANDOFF),
    # small_talk
    ("hello!", Intent.SMALL_TALK),
    ("Hi, how are you doing today?", Intent.SMALL_TALK),
    ("many thanks", Intent.SMALL_TALK),
    ("goodbye and take care", Intent.SMALL_TALK),
    ("are you a real person or a machine?", Intent.SMALL_TALK),
    ("awesome, appreciate it", Intent.SMALL_TALK),
    ("good afternoon", Intent.SMALL_TALK),
    # out_of_scope
    ("How many moons does Jupiter have?", Intent.OUT_OF_SCOPE),
    ("Compose a haiku about autumn", Intent.OUT_OF_SCOPE),
    ("will it snow in Innsbruck tomorrow", Intent.OUT_OF_SCOPE),
    ("Explain recursion in JavaScript with an example", Intent.OUT_OF_SCOPE),
    ("What's a good movie to watch tonight?", Intent.OUT_OF_SCOPE),
    ("How do I get a refund from Zalando?", Intent.OUT_OF_SCOPE),
    ("Who painted the Mona Lisa?", Intent.OUT_OF_SCOPE),
    ("give me a workout plan to lose weight", Intent.OUT_OF_SCOPE),
    ("What's 15% of 240?", Intent.OUT_OF_SCOPE),
    # -- second batch: written after the examples were revised against the first one
    ("could you check if LK-118907 has been dispatched yet", Intent.ORDER_STATUS),
    ("I'm still waiting on my hiking poles from last Tuesday", Intent.ORDER_STATUS),
    ("the app says out for delivery since yesterday but nothing came", Intent.ORDER_STATUS),
    ("whens my parcel coming", Intent.ORDER_STATUS),
    ("I'd like to hand back the headtorch, it's not what I expected", Intent.RETURNS_REFUNDS),
    ("How many days until the money from my return is back on PayPal?", Intent.RETURNS_REFUNDS),
    ("the sole came off my boots after one hike", Intent.RETURNS_REFUNDS),
    ("my order LK-330921 was missing the tent pegs", Intent.RETURNS_REFUNDS),
    ("How long does a parcel take to reach Poland?", Intent.SHIPPING),
    ("Is delivery to Liechtenstein possible?", Intent.SHIPPING),
    ("what are your postage rates", Intent.SHIPPING),
    ("Will there be extra tax to pay when my order lands in the US?", Intent.SHIPPING),
    ("my 2-step verification isn't sending me a text", Intent.ACCOUNT),
    ("reset pw", Intent.ACCOUNT),
    ("I want to remove my account and all my details", Intent.ACCOUNT),
    ("how can I opt out of promotional emails", Intent.ACCOUNT),
    ("Do you take Visa debit?", Intent.PAYMENTS),
    ("payment keeps failing at the last step", Intent.PAYMENTS),
    ("I need a receipt for my expenses claim", Intent.PAYMENTS),
    ("can I use two gift cards on one order", Intent.PAYMENTS),
    ("Please cancel LK-445120, I bought it somewhere else", Intent.CANCELLATION),
    ("I'd like to amend my order before it goes out", Intent.CANCELLATION),
    ("can I switch my delivery to a different address, it hasn't shipped", Intent.CANCELLATION),
    ("call off my purchase please", Intent.CANCELLATION),
    ("I'd prefer to discuss this with a human being", Intent.HUMAN_HANDOFF),
    ("escalate my case to your complaints department", Intent.HUMAN_HANDOFF),
    ("how do I reach a real support agent", Intent.HUMAN_HANDOFF),
    ("stop replying automatically and get me someone", Intent.HUMAN_HANDOFF),
    ("hey there", Intent.SMALL_TALK),
    ("thanks a lot, bye", Intent.SMALL_TALK),
    ("what are you?", Intent.SMALL_TALK),
    ("Morning!", Intent.SMALL_TALK),
    ("What's the population of Canada?", Intent.OUT_OF_SCOPE),
    ("write a limerick about a cat", Intent.OUT_OF_SCOPE),
    ("how do I centre a div in CSS", Intent.OUT_OF_SCOPE),
    ("My IKEA delivery is late, who do I call?", Intent.OUT_OF_SCOPE),
    # -- third and fourth batches: written later, each before a last revision of the examples
    ("hello, I'd like an update on lk-220981", Intent.ORDER_STATUS),
    ("My camping chair order is taking forever, where is it at?", Intent.ORDER_STATUS),
    ("did the thermal leggings I ordered get posted?", Intent.ORDER_STATUS),
    ("the fleece I got is faulty, the stitching is coming apart", Intent.RETURNS_REFUNDS),
    ("I want to give back the tent, never used it", Intent.RETURNS_REFUNDS),
    ("got the right jacket but in the wrong colour", Intent.RETURNS_REFUNDS),
    ("Do you post to Sweden and how long does it take?", Intent.SHIPPING),
    ("Is there a fee for delivery on small orders?", Intent.SHIPPING),
    ("when does an order placed on Saturday get dispatched?", Intent.SHIPPING),
    ("the verification code for logging in never arrives", Intent.ACCOUNT),
    ("I want my email address on file changed to a new one", Intent.ACCOUNT),
    ("unsubscribe me", Intent.ACCOUNT),
    ("Is bank transfer accepted?", Intent.PAYMENTS),
    ("my coupon didn't get applied at checkout", Intent.PAYMENTS),
    ("please send me a VAT invoice for LK-561200", Intent.PAYMENTS),
    ("I regret my order, can you stop it?", Intent.CANCELLATION),
    ("can I change the quantity on my order, I want 2 not 1", Intent.CANCELLATION),
    ("cancel order lk556677", Intent.CANCELLATION),
    ("I need to speak to somebody, this bot doesn't understand me", Intent.HUMAN_HANDOFF),
    ("what's the customer service hotline?", Intent.HUMAN_HANDOFF),
    ("I want my complaint handled by a manager", Intent.HUMAN_HANDOFF),
    ("yo", Intent.SMALL_TALK),
    ("thank you, have a good weekend", Intent.SMALL_TALK),
    ("how's your day been?", Intent.SMALL_TALK),
    ("What is the boiling point of water at altitude?", Intent.OUT_OF_SCOPE),
    ("write a short story about a dragon", Intent.OUT_OF_SCOPE),
    ("which phone should I buy?", Intent.OUT_OF_SCOPE),
    ("is LK-390017 with the courier yet?", Intent.ORDER_STATUS),
    ("the walking socks I bought on Sunday haven't reached me", Intent.ORDER_STATUS),
    ("can you see where my package currently is", Intent.ORDER_STATUS),
    ("I sent the fleece back but haven't been reimbursed", Intent.RETURNS_REFUNDS),
    ("there's a hole in the tent I just got", Intent.RETURNS_REFUNDS),
    ("Can I get the jacket in an XL instead of the L you sent?", Intent.RETURNS_REFUNDS),
    ("Can you deliver to Denmark?", Intent.SHIPPING),
    ("how quickly would a backpack get to London", Intent.SHIPPING),
    ("is there a charge for sending to Switzerland?", Intent.SHIPPING),
    ("I locked myself out of my account", Intent.ACCOUNT),
    ("set up two factor on my profile", Intent.ACCOUNT),
    ("close my account please", Intent.ACCOUNT),
    ("do you accept Maestro cards?", Intent.PAYMENTS),
    ("my payment went through twice", Intent.PAYMENTS),
    ("can I pay part with a gift card and the rest with PayPal", Intent.PAYMENTS),
    ("Scrap my order from this morning, I don't need it anymore", Intent.CANCELLATION),
    ("Can I change the boots in LK-772310 to size 44 before dispatch?", Intent.CANCELLATION),
    ("how do I undo an order I just placed", Intent.CANCELLATION),
    ("I'd like to talk to one of your advisers", Intent.HUMAN_HANDOFF),
    ("can I get a human on the line", Intent.HUMAN_HANDOFF),
    ("I'm going to complain, who is your supervisor?", Intent.HUMAN_HANDOFF),
    ("good day to you", Intent.SMALL_TALK),
    ("ta, that's great", Intent.SMALL_TALK),
    ("are you an AI?", Intent.SMALL_TALK),
    ("What year did the Berlin Wall fall?", Intent.OUT_OF_SCOPE),
    ("generate a rap song about pizza", Intent.OUT_OF_SCOPE),
    ("my Asos order never arrived", Intent.OUT_OF_SCOPE),
)
NOT_SHOP = frozenset({Intent.SMALL_TALK, Intent.OUT_OF_SCOPE})
OTHER_SHOPS = ("Zalando", "IKEA", "Asos")
"""Another shop's order reads like one of ours to the model: a known confusion, counted in
the accuracy but left out of the shop / not-shop separation."""
#: 95.1% measured when the examples were revised; onnxruntime 1.32's int8 quantization moved
#: one borderline message (confidence 0.497) to another intent: 94.5%.
MIN_ACCURACY = 0.94
MIN_CONFIDENT_PRECISION = 0.95
MIN_CONFIDENT_SHARE = 0.55


@functools.cache
def router() -> SemanticRouter:
    files = prepare_embedding_model(Settings().models_dir, "int8")
    embedder = OnnxEmbedder(files, EmbedderSettings(n_threads=1))
    return SemanticRouter(embedder, SHOP.intents, order_ids=ORDER_IDS)


@functools.cache
def routes() -> tuple[tuple[str, Intent, Route], ...]:
    return tuple((text, want, router().route(text)) for text, want in HELD_OUT)


def test_the_held_out_set_covers_every_intent() -> None:
    counts = {intent: sum(1 for _, i in HELD_OUT if i is intent) for intent in Intent}
    assert len(HELD_OUT) >= 60
    assert min(counts.values()) >= 10, counts
    assert len({text for text, _ in HELD_OUT}) == len(HELD_OUT)
    examples = {text.lower() for texts in EXAMPLES.values() for text in texts}
    assert not [text for text, _ in HELD_OUT if text.lower() in examples]


def test_held_out_accuracy() -> None:
    wrong = [
        (text, want.value, r.intent, r.confidence) for text, want, r in routes() if r.intent != want
    ]
    print(_distribution("correct", [r.confidence for _, want, r in routes() if r.intent == want]))
    print(_distribution("wrong", [confidence for *_, confidence in wrong]))
    accuracy = 1 - len(wrong) / len(HELD_OUT)
    print(f"accuracy {accuracy:.3f} ({len(HELD_OUT) - len(wrong)}/{len(HELD_OUT)})")
    assert accuracy >= MIN_ACCURACY, wrong


def test_small_talk_and_out_of_scope_are_not_taken_for_shop_intents() -> None:
    for text, want, route in routes():
        if not any(shop in text for shop in OTHER_SHOPS):
            assert (want in NOT_SHOP) == (route.intent in NOT_SHOP), (text, want, route)


def test_confident_routes_are_nearly_always_right_at_the_default_threshold() -> None:
    confident = [(want, r) for _, want, r in routes() if r.confident]
    right = sum(r.intent == want for want, r in confident)
    print(f"threshold {DEFAULT_THRESHOLD}: {len(confident)} confident, {right} right")
    assert right >= MIN_CONFIDENT_PRECISION * len(confident)
    assert len(confident) >= MIN_CONFIDENT_SHARE * len(HELD_OUT)


def test_order_numbers_do_not_move_the_route() -> None:
    first = router().route("where is LK-100214?")
    second = router().route("where is lk 987654?")
    assert first.intent == second.intent == Intent.ORDER_STATUS
    assert first.scores == second.scores
    assert second.order_ids == ("LK-987654",)


def _distribution(name: str, scores: list[float]) -> str:
    if len(scores) < 2:
        return f"{name}: {scores}"
    deciles = statistics.quantiles(scores, n=10, method="inclusive")
    return (
        f"{name}: n={len(scores)} min={min(scores):.3f} p10={deciles[0]:.3f} "
        f"median={statistics.median(scores):.3f} p90={deciles[-1]:.3f} max={max(scores):.3f}"
    )
