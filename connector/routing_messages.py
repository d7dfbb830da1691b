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
from datetime import datetime
from zoneinfo import ZoneInfo

from connector.signals.language import base_language

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


# While a team is closed (connector/routing.py, connector/timers.py): ``after_hours`` is the handoff
# notice when the handoff waits for the team ({callback_time}: its next opening, in its zone),
# ``after_hours_email`` the same when no opening is known; ``wait_closing`` the notice of an open
# team that closes before the wait is up ({callback_time}: the respond-by time after it reopens);
# the ``*_later`` lines are the reminders whose next update falls after a closed stretch
# ({callback_time}: when that update comes).
CLOSED_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "wait_closing": "I'm passing this conversation to a person on our team. Our {team} team closes "
                        "soon, so the answer may come when they reopen: by {callback_time} at the latest. "
                        "They will see everything we have discussed, so you won't need to repeat it.",
        "after_hours": "Our {team} team is closed right now. Your conversation is waiting for them and "
                       "someone will answer from {callback_time}; they will see everything we have "
                       "discussed. If you would rather be called back or get an e-mail then, tell me how "
                       "to reach you.",
        "after_hours_email": "Our {team} team is away right now. Your conversation is waiting for them "
                             "and someone will answer by e-mail as soon as they are back; tell me the "
                             "address to use if it is not the one on your account. Nothing we discussed "
                             "will be lost.",
        "reminder_later": "Thanks for waiting: you're still in line for our {team} team and nobody has "
                          "picked this up yet. We'll update you again at {callback_time}, once the team "
                          "is back.",
        "callback_offer_later": "Sorry, everyone on our {team} team is still busy. If you would rather not "
                                "wait, we can call you back instead: just say so. Otherwise we'll update "
                                "you again at {callback_time}, once the team is back.",
        "reroute_later": "Sorry for the wait. I've passed your conversation to our {team} team so someone "
                         "can pick it up sooner; we'll update you again at {callback_time}, once the team "
                         "is back.",
    },
    "es": {
        "wait_closing": "Estoy pasando esta conversación a una persona de nuestro equipo. El equipo de "
                        "{team} cierra pronto, así que la respuesta puede llegar cuando vuelva a abrir: a "
                        "más tardar el {callback_time}. Verá todo lo que hemos hablado, así que no tendrá "
                        "que repetirlo.",
        "after_hours": "Nuestro equipo de {team} está cerrado en este momento. Su conversación le espera y una "
                       "persona le responderá a partir de {callback_time}; verá todo lo que hemos "
                       "hablado. Si prefiere que le llamemos o le escribamos por correo entonces, dígame "
                       "cómo contactarle.",
        "after_hours_email": "Nuestro equipo de {team} no está disponible en este momento. Su conversación le "
                             "espera y una persona le responderá por correo en cuanto vuelva; dígame qué "
                             "dirección usar si no es la de su cuenta. No se perderá nada de lo hablado.",
        "reminder_later": "Gracias por esperar: sigue en la cola del equipo de {team} y todavía nadie ha "
                          "podido atenderle. Le volveremos a avisar el {callback_time}, cuando el equipo "
                          "vuelva.",
        "callback_offer_later": "Lo sentimos, todo el equipo de {team} sigue ocupado. Si prefiere no "
                                "esperar, podemos llamarle: solo tiene que decirlo. Si no, le volveremos a "
                                "avisar el {callback_time}, cuando el equipo vuelva.",
        "reroute_later": "Perdone la espera. He pasado su conversación al equipo de {team} para que alguien "
                         "la atienda antes; le volveremos a avisar el {callback_time}, cuando el equipo "
                         "vuelva.",
    },
    "fr": {
        "wait_closing": "Je transmets cette conversation à une personne de notre équipe. L'équipe {team} "
                        "ferme bientôt : la réponse pourra arriver à sa réouverture, au plus tard le "
                        "{callback_time}. Elle verra tout notre échange, vous n'aurez rien à répéter.",
        "after_hours": "Notre équipe {team} est fermée pour le moment. Votre conversation l'attend et une "
                       "personne vous répondra à partir de {callback_time} ; elle verra tout notre "
                       "échange. Si vous préférez être rappelé ou recevoir un e-mail à ce moment-là, "
                       "dites-moi comment vous joindre.",
        "after_hours_email": "Notre équipe {team} est absente pour le moment. Votre conversation l'attend et "
                             "une personne vous répondra par e-mail dès son retour ; indiquez-moi "
                             "l'adresse à utiliser si ce n'est pas celle de votre compte. Rien de notre "
                             "échange ne sera perdu.",
        "reminder_later": "Merci de patienter : vous êtes toujours en file pour l'équipe {team} et personne "
                          "n'a encore pris votre demande. Nous vous redonnons des nouvelles le "
                          "{callback_time}, au retour de l'équipe.",
        "callback_offer_later": "Désolé, toute l'équipe {team} est encore occupée. Si vous préférez ne pas "
                                "attendre, nous pouvons vous rappeler : dites-le simplement. Sinon, nous "
                                "vous redonnons des nouvelles le {callback_time}, au retour de l'équipe.",
        "reroute_later": "Désolé pour l'attente. J'ai transmis votre conversation à l'équipe {team} pour "
                         "qu'on s'en occupe plus vite ; nous vous redonnons des nouvelles le "
                         "{callback_time}, au retour de l'équipe.",
    },
    "de": {
        "wait_closing": "Ich übergebe dieses Gespräch an eine Person aus unserem Team. Das Team {team} "
                        "schließt bald, die Antwort kann daher nach der Wiederöffnung kommen: spätestens "
                        "am {callback_time}. Sie sieht unseren ganzen Verlauf, Sie müssen nichts "
                        "wiederholen.",
        "after_hours": "Unser Team {team} ist gerade nicht besetzt. Ihr Gespräch wartet auf das Team, und ab "
                       "{callback_time} antwortet Ihnen eine Person; sie sieht unseren ganzen Verlauf. "
                       "Wenn Sie dann lieber einen Rückruf oder eine E-Mail möchten, sagen Sie mir, wie "
                       "wir Sie erreichen.",
        "after_hours_email": "Unser Team {team} ist gerade nicht erreichbar. Ihr Gespräch wartet auf das Team, "
                             "und sobald es zurück ist, antwortet Ihnen eine Person per E-Mail; nennen "
                             "Sie mir die Adresse, falls es nicht die Ihres Kontos ist. Nichts aus "
                             "unserem Gespräch geht verloren.",
        "reminder_later": "Danke fürs Warten: Sie sind weiterhin in der Warteschlange des Teams {team}, es "
                          "hat sich aber noch niemand gemeldet. Wir melden uns am {callback_time} wieder, "
                          "wenn das Team zurück ist.",
        "callback_offer_later": "Entschuldigung, im Team {team} sind noch alle beschäftigt. Wenn Sie nicht "
                                "warten möchten, rufen wir Sie gern zurück: Sagen Sie einfach Bescheid. "
                                "Sonst melden wir uns am {callback_time} wieder, wenn das Team zurück ist.",
        "reroute_later": "Entschuldigen Sie die Wartezeit. Ich habe Ihr Gespräch an das Team {team} "
                         "weitergegeben, damit sich schneller jemand kümmert; wir melden uns am "
                         "{callback_time} wieder, wenn das Team zurück ist.",
    },
    "pt": {
        "wait_closing": "Estou passando esta conversa para uma pessoa da nossa equipe. A equipe de {team} "
                        "fecha em breve, então a resposta pode chegar quando ela reabrir: no máximo até "
                        "{callback_time}. Ela verá tudo o que conversamos, então você não precisará "
                        "repetir.",
        "after_hours": "Nossa equipe de {team} está fechada agora. Sua conversa está aguardando a equipe e uma "
                       "pessoa responderá a partir de {callback_time}; ela verá tudo o que conversamos. "
                       "Se preferir receber uma ligação ou um e-mail nesse momento, diga como falar com "
                       "você.",
        "after_hours_email": "Nossa equipe de {team} não está disponível agora. Sua conversa está aguardando a "
                             "equipe e uma pessoa responderá por e-mail assim que ela voltar; diga qual "
                             "endereço usar se não for o da sua conta. Nada do que conversamos será "
                             "perdido.",
        "reminder_later": "Obrigado por esperar: você continua na fila da equipe de {team} e ninguém pegou "
                          "seu atendimento ainda. Voltamos a dar notícias em {callback_time}, quando a "
                          "equipe voltar.",
        "callback_offer_later": "Desculpe, toda a equipe de {team} continua ocupada. Se preferir não "
                                "esperar, podemos ligar para você: é só dizer. Caso contrário, voltamos a "
                                "dar notícias em {callback_time}, quando a equipe voltar.",
        "reroute_later": "Desculpe a espera. Passei sua conversa para a equipe de {team} para que alguém "
                         "possa atender mais rápido; voltamos a dar notícias em {callback_time}, quando a "
                         "equipe voltar.",
    },
    "it": {
        "wait_closing": "Sto passando questa conversazione a una persona del nostro team. Il team {team} "
                        "chiude a breve, quindi la risposta potrebbe arrivare alla riapertura: al più tardi "
                        "il {callback_time}. Vedrà tutto quello che ci siamo detti, quindi non dovrà "
                        "ripetere nulla.",
        "after_hours": "Il nostro team {team} è chiuso in questo momento. La sua conversazione lo sta aspettando "
                       "e una persona le risponderà a partire da {callback_time}; vedrà tutto quello che "
                       "ci siamo detti. Se a quel punto preferisce essere richiamato o ricevere un'e-mail, "
                       "mi dica come contattarla.",
        "after_hours_email": "Il nostro team {team} non è disponibile in questo momento. La sua conversazione "
                             "lo sta aspettando e una persona le risponderà via e-mail appena rientra; mi "
                             "indichi l'indirizzo da usare se non è quello del suo account. Non andrà "
                             "perso nulla di quello che ci siamo detti.",
        "reminder_later": "Grazie per l'attesa: è ancora in coda per il team {team} e nessuno ha ancora "
                          "preso in carico la sua richiesta. Le daremo notizie il {callback_time}, quando il "
                          "team sarà di nuovo operativo.",
        "callback_offer_later": "Ci scusi, tutto il team {team} è ancora occupato. Se preferisce non "
                                "aspettare, possiamo richiamarla: basta dirlo. Altrimenti le daremo "
                                "notizie il {callback_time}, quando il team sarà di nuovo operativo.",
        "reroute_later": "Ci scusi per l'attesa. Ho passato la sua conversazione al team {team} perché "
                         "qualcuno se ne occupi prima; le daremo notizie il {callback_time}, quando il team "
                         "sarà di nuovo operativo.",
    },
    "nl": {
        "wait_closing": "Ik geef dit gesprek door aan een medewerker van ons team. Het team {team} sluit "
                        "binnenkort, dus het antwoord kan komen als het weer open is: uiterlijk op "
                        "{callback_time}. Die ziet alles wat we besproken hebben, dus u hoeft niets te "
                        "herhalen.",
        "after_hours": "Ons team {team} is op dit moment gesloten. Uw gesprek wacht op het team en vanaf "
                       "{callback_time} krijgt u antwoord van een medewerker, die alles ziet wat we "
                       "besproken hebben. Wilt u dan liever teruggebeld worden of een e-mail krijgen, "
                       "laat me dan weten hoe we u kunnen bereiken.",
        "after_hours_email": "Ons team {team} is op dit moment niet bereikbaar. Uw gesprek wacht op het team en "
                             "zodra het terug is, krijgt u per e-mail antwoord van een medewerker; laat "
                             "me weten welk adres we moeten gebruiken als het niet dat van uw account "
                             "is. Niets van ons gesprek gaat verloren.",
        "reminder_later": "Bedankt voor uw geduld: u staat nog in de wachtrij van het team {team} en nog "
                          "niemand heeft uw vraag opgepakt. Op {callback_time}, als het team terug is, "
                          "hoort u weer van ons.",
        "callback_offer_later": "Sorry, iedereen van het team {team} is nog bezig. Wilt u liever niet "
                                "wachten, dan bellen we u terug: laat het gewoon weten. Anders hoort u op "
                                "{callback_time}, als het team terug is, weer van ons.",
        "reroute_later": "Sorry voor het wachten. Ik heb uw gesprek doorgegeven aan het team {team}, zodat "
                         "iemand het sneller kan oppakken; op {callback_time}, als het team terug is, "
                         "hoort u weer van ons.",
    },
}  # fmt: skip
for _lang, _lines in CLOSED_MESSAGES.items():
    DEFAULT_MESSAGES[_lang].update(_lines)

# Weekday names for the local times in these lines ("Wed 2026-12-09 08:00 CET"), by language.
WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun.", "mar.", "mié.", "jue.", "vie.", "sáb.", "dom."),
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
    "de": ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."),
    "pt": ("seg.", "ter.", "qua.", "qui.", "sex.", "sáb.", "dom."),
    "it": ("lun.", "mar.", "mer.", "gio.", "ven.", "sab.", "dom."),
    "nl": ("ma", "di", "wo", "do", "vr", "za", "zo"),
}


def local_time(when: datetime, zone: str, language: str | None) -> str:
    """``when`` as the customer reads it: the weekday in their language, then the date and time in
    ``zone`` ("mer. 2026-12-09 08:00 CET"); an unknown language reads English."""
    local = when.astimezone(ZoneInfo(zone))
    base = base_language(language)
    day = WEEKDAYS.get(base, WEEKDAYS["en"])[local.weekday()]
    return f"{day} {local.strftime('%Y-%m-%d %H:%M %Z')}"


def template(
    configured: Mapping[str, Mapping[str, str | None]],
    language: str | None,
    name: str,
    default_language: str = "en",
) -> tuple[str, str]:
    """(language, text) of message ``name`` for ``language`` ("pt-BR" reads "pt"): the configured
    line, else the built-in line of that language; a language with neither falls back to
    ``default_language``, then English."""
    base = base_language(language)
    for lang in (base, default_language, "en"):
        if not lang or (lang not in configured and lang not in DEFAULT_MESSAGES):
            continue
        text = (configured.get(lang) or {}).get(name) or DEFAULT_MESSAGES.get(lang, {}).get(name)
        if text:
            return lang, text
    return "en", DEFAULT_MESSAGES["en"][name]
