"""The keyword signals read the seven languages we write: en, es, fr, de, pt, it, nl.

Every sentence here is written for this file, the way customers and bots write (informal forms,
missing accents), not copied from ../shared/data. For each language and signal: sentences that
must fire, sentences that must not (the same words in another sense, or a common word of another
language that looks like a term), and the explanation naming the term and its language.
"""

from __future__ import annotations

import pytest

from connector.config import load_config
from connector.policy import DecisionInput, decide
from connector.policy_config import Rule, When
from connector.schemas import BotContext, ConversationRef, Customer, Message
from connector.signals.failures import repeated_failure, says_it_failed
from connector.signals.human_request import detect_human_request
from connector.signals.intent import classify_team
from connector.signals.lexicon import LANGUAGES, POLICY_TOPIC_TERMS, TEAM_KEYWORDS
from connector.signals.topics import DEFAULT_POLICY_TOPICS_BY_LANGUAGE, policy_topics

# (language, sentence, topic)
TOPICS = [
    ("es", "Quiero un reembolso, el producto llegó roto", "refund"),
    ("es", "¿Me pueden devolver el dinero de la compra?", "refund"),
    ("es", "Me cobraron dos veces la misma suscripción", "billing"),
    ("es", "Voy a poner una queja formal", "complaint"),
    ("es", "Hablaré con mi abogado si no lo solucionan", "legal"),
    ("es", "Estoy embarazada, ¿puedo tomar esto?", "medical"),
    ("es", "Quiero que borren mis datos personales", "privacy"),
    ("fr", "Je veux être remboursé tout de suite", "refund"),
    ("fr", "On m'a prélevé deux fois ce mois-ci", "billing"),
    ("fr", "Je vais déposer une réclamation", "complaint"),
    ("fr", "Je vais porter plainte contre vous", "legal"),
    ("fr", "J'ai eu des effets secondaires après la première dose", "medical"),
    ("fr", "Supprimez mes données, c'est mon droit RGPD", "privacy"),
    ("de", "Ich möchte eine Rückerstattung für die Bestellung", "refund"),
    ("de", "Sie haben doppelt abgebucht!", "billing"),
    ("de", "Ich will mich beschweren, das ist eine Frechheit", "complaint"),
    ("de", "Dann schalte ich meinen Anwalt ein", "legal"),
    ("de", "Ich bin schwanger, darf ich das nehmen?", "medical"),
    ("de", "Löschen Sie meine Daten nach DSGVO", "privacy"),
    ("pt", "Quero o reembolso do pedido", "refund"),
    ("pt", "Fui cobrado duas vezes no cartão", "billing"),
    ("pt", "Vou fazer uma reclamação, péssimo atendimento", "complaint"),
    ("pt", "Vou falar com meu advogado", "legal"),
    ("pt", "Tive uma reação alérgica ao produto", "medical"),
    ("pt", "Quero excluir meus dados pessoais", "privacy"),
    ("it", "Voglio il rimborso, il pacco è arrivato rotto", "refund"),
    ("it", "Mi avete fatto un doppio addebito", "billing"),
    ("it", "Voglio fare un reclamo", "complaint"),
    ("it", "Mi rivolgerò a un avvocato", "legal"),
    ("it", "Sono incinta, posso usarlo?", "medical"),
    ("it", "Cancellate i miei dati personali", "privacy"),
    ("nl", "Ik wil mijn geld terug", "refund"),
    ("nl", "Er is twee keer afgeschreven van mijn rekening", "billing"),
    ("nl", "Ik wil een klacht indienen", "complaint"),
    ("nl", "Ik stap naar mijn advocaat", "legal"),
    ("nl", "Ik ben zwanger, mag ik dit gebruiken?", "medical"),
    ("nl", "Verwijder mijn persoonsgegevens", "privacy"),
]

# Sentences with no policy topic, each built around a word that looks like a term: a word of
# another language, the same word in an everyday sense, or a common word one letter from a term.
NO_TOPIC = [
    ("es", "¿Cuánto tarda el envío? Me queda poco tiempo"),  # queda ~ queja
    ("es", "La app devuelve un error al abrir"),  # devuelve: returns, not money
    ("es", "Lamentablemente no puedo entrar a mi cuenta"),  # not a complaint
    ("es", "Vivo en México y quiero saber los horarios"),  # méxico ~ médico
    ("fr", "Je voudrais demander les horaires d'ouverture"),  # demander ~ demandar
    ("fr", "L'appli plante quand j'ouvre la page"),  # plante ~ plainte
    ("fr", "Mon enceinte bluetooth ne s'allume plus"),  # enceinte: loudspeaker
    ("fr", "Mon vol part à quelle heure ?"),  # vol: flight
    ("de", "Das Gericht war kalt, aber lecker"),  # Gericht: a dish
    ("de", "Gibt es ein Rezept für diesen Kuchen?"),  # Rezept: recipe
    ("pt", "Eu sinto que o site está lento"),  # sinto ~ sintoma
    ("pt", "O seguro cobre danos de água?"),  # cobre ~ cobro
    ("pt", "Quero processar o pagamento agora"),  # processar: process a payment
    ("pt", "Já está feito, obrigado"),  # feito ~ ferito
    ("it", "Ho già fatto l'ordine ieri"),
    ("it", "Temo di aver sbagliato indirizzo"),
    ("nl", "Het wordt morgen geleverd"),  # wordt ~ worst
    ("nl", "Wat is de gewone levertijd?"),  # gewone ~ gewond
    ("nl", "Mijn huisdier heeft het pakket kapot gemaakt"),  # huisdier ~ huissier
    ("nl", "Ik heb me vergist in de maat"),  # vergist ~ vergift
    ("en", "Is the arts and crafts set in stock?"),  # nl arts
    ("en", "What is the avg delivery time to Mexico?"),  # nl avg, es médico
    ("en", "I am storing the cobra figurine in the garage"),  # nl storing, es cobro
    ("en", "Blessed are the patient: where is my parcel?"),  # fr blessé
]


@pytest.mark.parametrize(("lang", "text", "topic"), TOPICS)
def test_policy_topics_fire_in_each_language(lang, text, topic):  # type: ignore[no-untyped-def]
    found = policy_topics(text)
    assert found.matched and topic in dict(found.matches), (text, found)


@pytest.mark.parametrize(("lang", "text"), NO_TOPIC)
def test_look_alike_words_fire_no_topic(lang, text):  # type: ignore[no-untyped-def]
    assert not policy_topics(text).matched, (text, policy_topics(text))


def test_every_language_has_every_topic():
    for topic, by_language in DEFAULT_POLICY_TOPICS_BY_LANGUAGE.items():
        assert tuple(by_language) == LANGUAGES, topic
    assert set(POLICY_TOPIC_TERMS) == set(DEFAULT_POLICY_TOPICS_BY_LANGUAGE)
    for team, by_language in TEAM_KEYWORDS.items():
        assert tuple(by_language) == LANGUAGES[1:], team


# --- a bot saying it failed -------------------------------------------------------------------

FAILED = [
    ("es", "Lo siento, no he podido encontrar tu pedido."),
    ("es", "No te entiendo, ¿puedes reformular la pregunta?"),
    ("fr", "Je n'ai pas compris votre demande."),
    ("fr", "Désolé, il n'y a aucun résultat pour cette recherche."),
    ("de", "Ich konnte Ihre Buchung leider nicht finden."),
    ("de", "Für Samstag sind wir leider ausgebucht."),
    ("pt", "Desculpe, não entendi o que você quis dizer."),
    ("pt", "Não foi possível concluir o pagamento."),
    ("it", "Non ho capito, puoi riformulare?"),
    ("it", "Purtroppo non ci sono tavoli liberi alle 20."),
    ("nl", "Het is helaas niet gelukt om uw bestelling te vinden."),
    ("nl", "Ik begrijp het niet, kunt u het anders formuleren?"),
]

NOT_FAILED = [
    ("es", "Siento oír eso. Tu pedido llega mañana."),
    ("es", "Perfecto, ya está reservado para las 8."),
    ("fr", "Désolé d'apprendre cela. Votre colis arrive demain."),
    ("fr", "C'est fait : votre commande est confirmée."),
    ("de", "Es tut mir leid, das zu hören. Ihr Paket kommt morgen."),
    ("de", "Ihre Bestellung ist unterwegs."),
    ("pt", "Lamento ouvir isso. Seu pedido chega amanhã."),
    ("pt", "Pronto, sua reserva está confirmada."),
    ("it", "Mi dispiace sentirlo. Il pacco arriva domani."),
    ("it", "Fatto! La prenotazione è confermata."),
    ("nl", "Vervelend om te horen. Uw pakket komt morgen."),
    ("nl", "Uw bestelling is onderweg."),
]


@pytest.mark.parametrize(("lang", "text"), FAILED)
def test_a_bot_saying_it_failed_is_read_in_each_language(lang, text):  # type: ignore[no-untyped-def]
    assert says_it_failed(text) is not None, text


@pytest.mark.parametrize(("lang", "text"), NOT_FAILED)
def test_empathy_and_success_are_not_failure(lang, text):  # type: ignore[no-untyped-def]
    assert says_it_failed(text) is None, (text, says_it_failed(text))


def test_two_spanish_failures_make_a_repeated_failure():
    messages = [
        Message(id="1", role="customer", text="¿Tienen mesa para cuatro el sábado?"),
        Message(id="2", role="bot", text="Lo siento, no hay disponibilidad el sábado."),
        Message(id="3", role="customer", text="¿Y el domingo?"),
        Message(id="4", role="bot", text="No he podido encontrar mesas libres el domingo."),
    ]
    found = repeated_failure(messages)
    assert found.failed and found.bot_failures == 2


# --- teams ------------------------------------------------------------------------------------

TEAMS = [
    ("es", "Me robaron la tarjeta y hay compras que no reconozco", "fraud"),
    ("es", "Quiero darme de baja y cancelar mi suscripción", "retention"),
    ("fr", "Je ne peux pas me connecter, mot de passe oublié", "technical"),
    ("fr", "Je voudrais un devis pour un prêt immobilier", "sales"),
    ("de", "Warum wurde diese Gebühr abgebucht?", "billing"),
    ("de", "Ich möchte meinen Vertrag kündigen", "retention"),
    ("pt", "Meu cartão foi clonado, não reconheço essa compra", "fraud"),
    ("pt", "O aplicativo não funciona, aparece erro", "technical"),
    ("it", "Vorrei un preventivo per un mutuo", "sales"),
    ("it", "Perché ho un addebito sulla bolletta?", "billing"),
    ("nl", "Mijn pas is gestolen", "fraud"),
    ("nl", "Ik kan niet inloggen, wachtwoord vergeten", "technical"),
]


@pytest.mark.parametrize(("lang", "text", "team"), TEAMS)
def test_team_keywords_in_each_language(lang, text, team):  # type: ignore[no-untyped-def]
    guess = classify_team(text)
    assert (guess.team, guess.source) == (team, "keywords"), (text, guess)


@pytest.mark.parametrize(
    "text",
    [
        "Quero falar com o robô de vendas",  # pt robô is a robot, not es robo (theft)
        "Os produtos são preciosos",  # es precio*
        "We devised a precious hypothesis",  # fr devis, es precio, nl hypotheek
        "Meu pedido chegou precoce",  # pt preço
    ],
)
def test_look_alike_words_vote_for_no_team(text):  # type: ignore[no-untyped-def]
    assert classify_team(text).source != "keywords", (text, classify_team(text))


# --- human requests in Dutch -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "requested"),
    [
        ("Ik wil graag een medewerker spreken", True),
        ("Kan ik met iemand praten?", True),
        ("Verbind me alsjeblieft door", True),
        ("Ik wil niet met een bot praten", True),
        ("Ik hoef geen medewerker te spreken, dank u", False),
        ("Mijn pakket is niet aangekomen", False),
    ],
)
def test_dutch_requests_for_a_person(text, requested):  # type: ignore[no-untyped-def]
    found = detect_human_request(text)
    assert found.requested is requested, (text, found)
    if requested:
        assert found.language == "nl"


# --- the policy explains in which language it read the term -----------------------------------

SETTINGS = load_config(None, env={})


def _inputs(*texts: str) -> DecisionInput:
    messages = [Message(id=f"m{i}", role="customer", text=t) for i, t in enumerate(texts)]
    return DecisionInput(
        event_type="conversation.updated",
        conversation=ConversationRef(id="c1"),
        customer=Customer(),
        bot=BotContext(),
        messages=messages,
        new_messages=messages,
    )


def test_the_reason_names_the_term_and_its_language():
    decision = decide(_inputs("Hola, quiero un reembolso de mi pedido"), SETTINGS.policy)
    reason = next(r for r in decision.reasons if r.trigger == "policy_topic")
    # a word one letter from a term is read as the term (typo tolerance): the stem is named
    assert "refund: 'reembols" in reason.detail and "' (es)" in reason.detail
    english = decide(_inputs("I want a refund for my order"), SETTINGS.policy)
    assert "refund: 'refund' (en)" in english.reasons[0].detail


def test_the_failure_reason_names_the_language_of_what_the_bot_said():
    messages = [
        Message(id="1", role="customer", text="Je cherche ma commande 4471"),
        Message(id="2", role="bot", text="Je n'ai pas trouvé cette commande."),
        Message(id="3", role="customer", text="Elle a été passée lundi"),
        Message(id="4", role="bot", text="Désolé, je n'ai pas compris."),
    ]
    inputs = DecisionInput(
        event_type="conversation.updated",
        conversation=ConversationRef(id="c1"),
        customer=Customer(),
        bot=BotContext(),
        messages=messages,
        new_messages=messages[-2:],
    )
    decision = decide(inputs, SETTINGS.policy)
    reason = next(r for r in decision.reasons if r.trigger == "repeated_failure")
    assert "(fr)" in reason.detail and "je n'ai pas compris" in reason.detail


# --- config: flat lists as before, per-language lists, languages ------------------------------


def _decide_with(when: dict, *texts: str):  # type: ignore[no-untyped-def]
    rule = Rule.model_validate({"id": "topics", "when": when})
    return decide(_inputs(*texts), SETTINGS.policy.model_copy(update={"rules": [rule]}))


def test_a_flat_list_still_replaces_the_built_in_terms():
    when = {"trigger": "policy_topic", "groups": {"refund": ["store credit"]}}
    assert _decide_with(when, "I want store credit").escalate
    assert "(custom)" in _decide_with(when, "I want store credit").reasons[0].detail
    assert not _decide_with(when, "Quiero un reembolso").escalate


def test_per_language_lists_pick_extend_or_replace_a_language():
    when = {"trigger": "policy_topic", "groups": {"refund": {"es": [], "acme": ["vale regalo"]}}}
    assert _decide_with(when, "Quiero un reembolso").escalate
    assert "(acme)" in _decide_with(when, "Prefiero un vale regalo").reasons[0].detail
    assert not _decide_with(when, "I want a refund").escalate  # en not named: not read
    replaced = {"trigger": "policy_topic", "groups": {"refund": {"fr": ["avoir"]}}}
    assert _decide_with(replaced, "Je veux un avoir").escalate
    assert not _decide_with(replaced, "Je veux être remboursé").escalate


def test_languages_keep_only_those_built_in_languages():
    when = {"trigger": "policy_topic", "groups": {"refund": []}, "languages": ["en"]}
    assert _decide_with(when, "I want a refund").escalate
    assert not _decide_with(when, "Quiero un reembolso").escalate


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"refund": {"xx": []}}, "refund.xx: no built-in policy topic terms in that language"),
        ({"refund": {"es": ["re:("]}}, "refund.es: item 0: regex does not compile"),
        ({"nope": {"es": []}}, "nope.es: no built-in policy topic terms"),
    ],
)
def test_bad_per_language_groups_say_where(when, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        When.model_validate({"trigger": "policy_topic", "groups": when})
