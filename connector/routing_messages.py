"""What the bot is asked to tell the customer, written per language (``routing.messages``).

Every line the connector asks a bot to relay is here: the handoff notice with the wait (``wait``,
``on_call``), the callback offer when nobody is on shift (``unavailable``), the reminders while the
customer waits (``reminder``, ``callback_offer``, ``reroute``) and the agent's first words when they
take over (``join``, with ``your_request`` when the topic is unknown). Each language is written by
a person, not translated at run time. A configured language may give only some of them; the others
come from the built-in lines of that language, then English (:func:`template`).

Placeholders: ``{wait}`` (minutes), ``{callback_time}``, ``{team}``, ``{agent}``, ``{topic}``.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl")

DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "wait": "I'm passing this conversation to a person on our team. The wait is about {wait} minutes; "
                "they will see everything we have discussed, so you won't need to repeat it.",
        "on_call": "Our team is outside its usual hours, but someone on call will pick this up; the wait "
                   "is about {wait} minutes. They will see everything we have discussed.",
        "unavailable": "Nobody from our team is available right now, so I can't pass you to a person at "
                       "the moment. We can call you back or reply by e-mail from {callback_time}: tell me "
                       "which you prefer and how to reach you. Nothing we discussed will be lost.",
        "reminder": "Thanks for waiting: you're still in line for our {team} team and nobody has picked "
                    "this up yet. We'll update you again in about {wait} minutes.",
        "callback_offer": "Sorry, everyone on our {team} team is still busy. If you would rather not wait, "
                          "we can call you back instead: just say so. Otherwise we'll update you again in "
                          "about {wait} minutes.",
        "reroute": "Sorry for the wait. I've passed your conversation to our {team} team so someone can "
                   "pick it up sooner; we'll update you again in about {wait} minutes.",
        "join": "Hi, I'm {agent} from {team}. I can see you were asking about {topic}, so you won't need "
                "to repeat anything.",
        "your_request": "your request",
    },
    "es": {
        "wait": "Estoy pasando esta conversación a una persona de nuestro equipo. La espera es de unos "
                "{wait} minutos; verá todo lo que hemos hablado, así que no tendrá que repetirlo.",
        "on_call": "Nuestro equipo está fuera de su horario, pero una persona de guardia atenderá su caso; "
                   "la espera es de unos {wait} minutos.",
        "unavailable": "Ahora mismo no hay nadie de nuestro equipo disponible, así que no puedo pasarle con "
                       "una persona. Podemos llamarle o escribirle por correo a partir de {callback_time}: "
                       "dígame qué prefiere y cómo contactarle. No se perderá nada de lo hablado.",
        "reminder": "Gracias por esperar: sigue en la cola del equipo de {team} y todavía nadie ha podido "
                    "atenderle. Le volveremos a avisar en unos {wait} minutos.",
        "callback_offer": "Lo sentimos, todo el equipo de {team} sigue ocupado. Si prefiere no esperar, "
                          "podemos llamarle: solo tiene que decirlo. Si no, le volveremos a avisar en unos "
                          "{wait} minutos.",
        "reroute": "Perdone la espera. He pasado su conversación al equipo de {team} para que alguien la "
                   "atienda antes; le volveremos a avisar en unos {wait} minutos.",
        "join": "Hola, soy {agent} del equipo de {team}. Veo que preguntaba por {topic}, así que no tendrá "
                "que repetir nada.",
        "your_request": "su consulta",
    },
    "fr": {
        "wait": "Je transmets cette conversation à une personne de notre équipe. L'attente est d'environ "
                "{wait} minutes ; elle verra tout notre échange, vous n'aurez rien à répéter.",
        "on_call": "Notre équipe est en dehors de ses horaires, mais une personne d'astreinte va prendre "
                   "le relais ; l'attente est d'environ {wait} minutes.",
        "unavailable": "Personne de notre équipe n'est disponible pour le moment, je ne peux donc pas vous "
                       "mettre en relation maintenant. Nous pouvons vous rappeler ou vous répondre par "
                       "e-mail à partir de {callback_time} : dites-moi ce que vous préférez et comment "
                       "vous joindre. Rien de notre échange ne sera perdu.",
        "reminder": "Merci de patienter : vous êtes toujours en file pour l'équipe {team} et personne n'a "
                    "encore pris votre demande. Nous vous redonnons des nouvelles dans environ {wait} "
                    "minutes.",
        "callback_offer": "Désolé, toute l'équipe {team} est encore occupée. Si vous préférez ne pas "
                          "attendre, nous pouvons vous rappeler : dites-le simplement. Sinon, nous vous "
                          "redonnons des nouvelles dans environ {wait} minutes.",
        "reroute": "Désolé pour l'attente. J'ai transmis votre conversation à l'équipe {team} pour qu'on "
                   "s'en occupe plus vite ; nous vous redonnons des nouvelles dans environ {wait} minutes.",
        "join": "Bonjour, je suis {agent} de l'équipe {team}. Je vois que vous nous écriviez au sujet de "
                "{topic} : inutile de tout répéter.",
        "your_request": "votre demande",
    },
    "de": {
        "wait": "Ich übergebe dieses Gespräch an eine Person aus unserem Team. Die Wartezeit beträgt etwa "
                "{wait} Minuten; sie sieht unseren ganzen Verlauf, Sie müssen nichts wiederholen.",
        "on_call": "Unser Team ist außerhalb der Geschäftszeiten, aber eine Person in Bereitschaft "
                   "übernimmt; die Wartezeit beträgt etwa {wait} Minuten.",
        "unavailable": "Gerade ist niemand aus unserem Team erreichbar, daher kann ich Sie im Moment nicht "
                       "an eine Person übergeben. Wir können Sie ab {callback_time} zurückrufen oder per "
                       "E-Mail antworten: Sagen Sie mir, was Ihnen lieber ist und wie wir Sie erreichen. "
                       "Nichts aus unserem Gespräch geht verloren.",
        "reminder": "Danke fürs Warten: Sie sind weiterhin in der Warteschlange des Teams {team}, es hat "
                    "sich aber noch niemand gemeldet. Wir melden uns in etwa {wait} Minuten wieder.",
        "callback_offer": "Entschuldigung, im Team {team} sind noch alle beschäftigt. Wenn Sie nicht "
                          "warten möchten, rufen wir Sie gern zurück: Sagen Sie einfach Bescheid. "
                          "Sonst melden wir uns in etwa {wait} Minuten wieder.",
        "reroute": "Entschuldigen Sie die Wartezeit. Ich habe Ihr Gespräch an das Team {team} "
                   "weitergegeben, damit sich schneller jemand kümmert; wir melden uns in etwa {wait} "
                   "Minuten wieder.",
        "join": "Hallo, ich bin {agent} vom Team {team}. Ich sehe, es geht um {topic}, Sie müssen also "
                "nichts wiederholen.",
        "your_request": "Ihr Anliegen",
    },
    "pt": {
        "wait": "Estou passando esta conversa para uma pessoa da nossa equipe. A espera é de cerca de "
                "{wait} minutos; ela verá tudo o que conversamos, então você não precisará repetir.",
        "on_call": "Nossa equipe está fora do horário, mas uma pessoa de plantão vai assumir; a espera é "
                   "de cerca de {wait} minutos.",
        "unavailable": "No momento ninguém da nossa equipe está disponível, então não consigo passar você "
                       "para uma pessoa agora. Podemos ligar de volta ou responder por e-mail a partir de "
                       "{callback_time}: diga o que prefere e como falar com você. Nada do que "
                       "conversamos será perdido.",
        "reminder": "Obrigado por esperar: você continua na fila da equipe de {team} e ninguém pegou seu "
                    "atendimento ainda. Voltamos a dar notícias em cerca de {wait} minutos.",
        "callback_offer": "Desculpe, toda a equipe de {team} continua ocupada. Se preferir não esperar, "
                          "podemos ligar para você: é só dizer. Caso contrário, voltamos a dar notícias em "
                          "cerca de {wait} minutos.",
        "reroute": "Desculpe a espera. Passei sua conversa para a equipe de {team} para que alguém possa "
                   "atender mais rápido; voltamos a dar notícias em cerca de {wait} minutos.",
        "join": "Olá, sou {agent}, da equipe de {team}. Vi que você perguntou sobre {topic}, então não "
                "precisa repetir nada.",
        "your_request": "sua solicitação",
    },
    "it": {
        "wait": "Sto passando questa conversazione a una persona del nostro team. L'attesa è di circa "
                "{wait} minuti; vedrà tutto quello che ci siamo detti, quindi non dovrà ripetere nulla.",
        "on_call": "Il nostro team è fuori orario, ma una persona reperibile se ne occuperà; l'attesa è "
                   "di circa {wait} minuti.",
        "unavailable": "In questo momento nessuno del nostro team è disponibile, quindi non posso passarla "
                       "a una persona adesso. Possiamo richiamarla o risponderle via e-mail a partire da "
                       "{callback_time}: mi dica cosa preferisce e come contattarla. Non andrà perso "
                       "nulla di quello che ci siamo detti.",
        "reminder": "Grazie per l'attesa: è ancora in coda per il team {team} e nessuno ha ancora preso "
                    "in carico la sua richiesta. Le daremo notizie tra circa {wait} minuti.",
        "callback_offer": "Ci scusi, tutto il team {team} è ancora occupato. Se preferisce non aspettare, "
                          "possiamo richiamarla: basta dirlo. Altrimenti le daremo notizie tra circa "
                          "{wait} minuti.",
        "reroute": "Ci scusi per l'attesa. Ho passato la sua conversazione al team {team} perché qualcuno "
                   "se ne occupi prima; le daremo notizie tra circa {wait} minuti.",
        "join": "Buongiorno, sono {agent} del team {team}. Vedo che mi scriveva per {topic}, quindi non "
                "deve ripetere nulla.",
        "your_request": "la sua richiesta",
    },
    "nl": {
        "wait": "Ik geef dit gesprek door aan een medewerker van ons team. De wachttijd is ongeveer {wait} "
                "minuten; die ziet alles wat we besproken hebben, dus u hoeft niets te herhalen.",
        "on_call": "Ons team is buiten de openingstijden, maar een collega van de storingsdienst neemt het "
                   "over; de wachttijd is ongeveer {wait} minuten.",
        "unavailable": "Er is op dit moment niemand van ons team beschikbaar, dus ik kan u nu niet "
                       "doorverbinden. We kunnen u vanaf {callback_time} terugbellen of per e-mail "
                       "antwoorden: laat me weten wat u liever heeft en hoe we u kunnen bereiken. Niets "
                       "van ons gesprek gaat verloren.",
        "reminder": "Bedankt voor uw geduld: u staat nog in de wachtrij van het team {team} en nog niemand "
                    "heeft uw vraag opgepakt. Over ongeveer {wait} minuten hoort u weer van ons.",
        "callback_offer": "Sorry, iedereen van het team {team} is nog bezig. Wilt u liever niet wachten, "
                          "dan bellen we u terug: laat het gewoon weten. Anders hoort u over ongeveer "
                          "{wait} minuten weer van ons.",
        "reroute": "Sorry voor het wachten. Ik heb uw gesprek doorgegeven aan het team {team}, zodat "
                   "iemand het sneller kan oppakken; over ongeveer {wait} minuten hoort u weer van ons.",
        "join": "Hallo, ik ben {agent} van het team {team}. Ik zie dat uw vraag over {topic} gaat, dus u "
                "hoeft niets te herhalen.",
        "your_request": "uw vraag",
    },
}  # fmt: skip


def template(
    configured: Mapping[str, Mapping[str, str | None]],
    language: str | None,
    name: str,
    default_language: str = "en",
) -> tuple[str, str]:
    """(language, text) of message ``name`` for ``language`` ("pt-BR" reads "pt"): the configured
    line, else the built-in line of that language; a language with neither falls back to
    ``default_language``, then English."""
    base = (language or "").replace("_", "-").split("-")[0].lower()
    for lang in (base, default_language, "en"):
        if not lang or (lang not in configured and lang not in DEFAULT_MESSAGES):
            continue
        text = (configured.get(lang) or {}).get(name) or DEFAULT_MESSAGES.get(lang, {}).get(name)
        if text:
            return lang, text
    return "en", DEFAULT_MESSAGES["en"][name]
