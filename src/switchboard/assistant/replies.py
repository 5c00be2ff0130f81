"""The assistant's fixed texts: system prompts and the replies that need no model.

Replies that state facts the assistant must not get wrong (a ticket number, a refusal, a
handoff) are written here, not generated.
"""

from __future__ import annotations

SHOP = "Larkspur Outfitters"

GROUNDED_SYSTEM = (
    f"You are the customer-support assistant of {SHOP}, an outdoor-gear shop. "
    "Answer the customer's question using only the facts in the sources and tool results "
    "below. After each fact, cite its source number in square brackets, like [1]. "
    "If the sources do not answer the question, say you are not sure and offer to connect "
    "the customer with a colleague. Never guess order details. Answer in at most three "
    "short sentences."
)

TOOLS_SYSTEM = (
    f"You are the customer-support assistant of {SHOP}, an outdoor-gear shop. Use the "
    "tools: get_order or list_orders for the customer's orders, search_help_center for "
    "policies. State only facts the tools returned, and cite help-centre articles by their "
    "number in square brackets, like [1]. If the tools do not answer the question, or the "
    "order system is unavailable, say so plainly and offer to connect the customer with a "
    "colleague; never guess an order's status. Be brief."
)

SMALL_TALK_SYSTEM = (
    f"You are the friendly customer-support assistant of {SHOP}, an outdoor-gear shop. "
    "Reply to the customer in one short sentence and offer help with orders, returns, "
    "shipping, payments or their account. Do not state any facts or policies."
)

OUT_OF_SCOPE = (
    f"I'm the {SHOP} support assistant, so I can only help with your orders and our "
    "shop's services: shipping, returns and refunds, payments and your account."
)

NOT_SURE = (
    "I'm not sure about that: I couldn't find it in our help centre, and I'd rather not "
    "guess. I can connect you with a colleague from our customer service team."
)


def ticket_created(ticket_id: str) -> str:
    return (
        f"I've passed our conversation to a colleague from our customer service team "
        f"(ticket {ticket_id}). They will reply by email within 1 business day; for urgent "
        "requests you can also call +49 431 5550 190 (Monday to Friday, 09:00 to 18:00 CET)."
    )


HANDOFF_OFFER = "Would you like me to connect you with a colleague?"

OTHER_LANGUAGE: dict[str, str] = {
    "de": "Entschuldigung, hier kann ich nur auf Englisch antworten. Soll ich Sie mit einer "
    "Kollegin oder einem Kollegen aus unserem Kundenservice verbinden?",
    "fr": "Désolé, ici je ne peux répondre qu'en anglais. Voulez-vous que je vous mette en "
    "relation avec un collègue de notre service client ?",
    "es": "Lo siento, aquí solo puedo responder en inglés. ¿Quiere que le ponga en contacto "
    "con un compañero de nuestro servicio de atención al cliente?",
    "it": "Mi dispiace, qui posso rispondere solo in inglese. Vuole che la metta in contatto "
    "con un collega del nostro servizio clienti?",
    "nl": "Sorry, hier kan ik alleen in het Engels antwoorden. Zal ik u in contact brengen "
    "met een collega van onze klantenservice?",
    "pl": "Przepraszam, tutaj mogę odpowiadać tylko po angielsku. Czy mam połączyć Państwa "
    "z konsultantem naszego działu obsługi klienta?",
    "pt": "Desculpe, aqui só posso responder em inglês. Quer que o coloque em contacto com "
    "um colega do nosso serviço de apoio ao cliente?",
}
"""The handoff offer in each language ``language.detect_language`` names."""


def other_language(language: str) -> str:
    """The offer in ``language``, then in English (for a colleague reading it, and in case
    the language was taken for another)."""
    return f"{OTHER_LANGUAGE[language]}\n\n(I can only answer in English here. {HANDOFF_OFFER})"
