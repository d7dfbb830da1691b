"""The words of the draft reply, per language and tone, written by people (no run-time translation).

``connector/payload.py`` assembles a draft from these lines: greeting, an apology in our own words
(never the customer's), the team's or intent's line, "you won't need to repeat anything", the
article the bot cited, a close. ``{name}`` is the customer's first name, ``{ref}`` a reference as
the customer wrote it ("order 5512"), ``{title}``/``{url}`` the article. None of them promises a
refund or compensation: ``tests/test_payload_language.py`` checks every line against the shipped
guardrails. ``payload.drafts`` in the config replaces team lines: a plain key (``billing``) for
English, ``es:billing`` for Spanish.
"""

from __future__ import annotations

DRAFT_LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl")

# (friendly, formal) where the tone changes the words; one string where it does not
LINES: dict[str, dict[str, str | tuple[str, str]]] = {
    "en": {
        "greet": ("Hi {name},", "Dear {name},"),
        "greet_anon": ("Hi there,", "Hello,"),
        "sorry_ref": ("I'm sorry about the trouble with {ref}.", "I am sorry for the trouble with {ref}."),
        "sorry": ("I'm sorry about the trouble you've had.", "I am sorry for the trouble you have had."),
        "sorry_chat": ("I'm also sorry our chat couldn't sort it out for you.",
                       "I also apologise that our chat assistant could not resolve it."),
        "no_repeat": ("I have the whole conversation, so you won't need to repeat anything.",
                      "I have the full conversation and will not ask you to repeat yourself."),
        "cite": ("This article may help in the meantime: {title}{url}.",
                 "You may find this article useful in the meantime: {title}{url}."),
        "close": ("I'll get back to you shortly.", "I will be in touch shortly."),
        "billing": "I'm looking at the charges on your account now and will confirm what happened and "
                   "what the next step is.",
        "fraud": "Your security comes first: I'm reviewing the activity on your account now and will tell "
                 "you straight away what we have secured.",
        "technical": "I'm checking what is going wrong on our side and will walk you through the fix.",
        "retention": "I'm sorry to hear you're thinking of leaving. I'm looking at your account so we can "
                     "go through your options together.",
        "sales": "I'd be glad to help with that. I'm pulling together the details and options that fit "
                 "what you described.",
        "partners": "Thanks for getting in touch. I'm passing your message to the right person on our "
                    "partner team.",
        "general": "I'm looking into this for you now.",
    },
    "es": {
        "greet": ("Hola, {name}:", "Estimado/a {name}:"),
        "greet_anon": ("Hola:", "Buenos días:"),
        "sorry_ref": "Lamento los problemas con {ref}.",
        "sorry": "Lamento los problemas que ha tenido.",
        "sorry_chat": "Siento también que nuestro chat no haya podido resolverlo.",
        "no_repeat": "Tengo toda la conversación, así que no tendrá que repetir nada.",
        "cite": "Mientras tanto, este artículo puede serle útil: {title}{url}.",
        "close": ("Le escribo en breve.", "Me pondré en contacto con usted en breve."),
        "billing": "Estoy revisando ahora los cargos de su cuenta y le confirmaré qué ha pasado y cuál es "
                   "el siguiente paso.",
        "fraud": "Su seguridad es lo primero: estoy revisando ahora la actividad de su cuenta y le diré "
                 "enseguida qué hemos protegido.",
        "technical": "Estoy comprobando qué falla por nuestra parte y le guiaré para solucionarlo.",
        "retention": "Siento que esté pensando en irse. Estoy revisando su cuenta para que veamos juntos "
                     "sus opciones.",
        "sales": "Con mucho gusto le ayudo. Estoy preparando los detalles y las opciones que encajan con "
                 "lo que nos ha contado.",
        "partners": "Gracias por escribirnos. Estoy pasando su mensaje a la persona adecuada de nuestro "
                    "equipo de socios.",
        "general": "Ya estoy revisando su caso.",
    },
    "fr": {
        "greet": ("Bonjour {name},", "Madame, Monsieur {name},"),
        "greet_anon": ("Bonjour,", "Madame, Monsieur,"),
        "sorry_ref": "Je suis désolé pour le problème avec {ref}.",
        "sorry": "Je suis désolé pour les désagréments que vous avez eus.",
        "sorry_chat": "Je regrette aussi que notre assistant n'ait pas pu vous aider.",
        "no_repeat": "J'ai toute la conversation sous les yeux, vous n'aurez rien à répéter.",
        "cite": "En attendant, cet article peut vous être utile : {title}{url}.",
        "close": ("Je reviens vers vous très vite.", "Je reviens vers vous dans les meilleurs délais."),
        "billing": "Je vérifie en ce moment les prélèvements sur votre compte et je vous confirme ce qui "
                   "s'est passé et la suite.",
        "fraud": "Votre sécurité passe avant tout : j'examine en ce moment l'activité de votre compte et "
                 "je vous dis tout de suite ce que nous avons sécurisé.",
        "technical": "Je regarde ce qui ne fonctionne pas de notre côté et je vous guide pour le résoudre.",
        "retention": "Je suis désolé d'apprendre que vous pensez nous quitter. Je regarde votre compte pour "
                     "que nous passions en revue vos options ensemble.",
        "sales": "Avec plaisir. Je rassemble les informations et les options qui correspondent à ce que "
                 "vous avez décrit.",
        "partners": "Merci de nous avoir contactés. Je transmets votre message à la bonne personne de notre "
                    "équipe partenaires.",
        "general": "Je m'occupe de votre demande dès maintenant.",
    },
    "de": {
        "greet": ("Hallo {name},", "Guten Tag {name},"),
        "greet_anon": ("Hallo,", "Guten Tag,"),
        "sorry_ref": "Es tut mir leid, dass es mit {ref} Probleme gibt.",
        "sorry": "Es tut mir leid, dass Sie Ärger damit hatten.",
        "sorry_chat": "Es tut mir auch leid, dass unser Chat Ihnen nicht weiterhelfen konnte.",
        "no_repeat": "Ich habe den ganzen Gesprächsverlauf, Sie müssen also nichts wiederholen.",
        "cite": "Bis dahin hilft Ihnen vielleicht dieser Artikel: {title}{url}.",
        "close": ("Ich melde mich gleich wieder.", "Ich melde mich in Kürze bei Ihnen."),
        "billing": "Ich sehe mir gerade die Buchungen auf Ihrem Konto an und sage Ihnen, was passiert ist "
                   "und wie es weitergeht.",
        "fraud": "Ihre Sicherheit hat Vorrang: Ich prüfe gerade die Aktivitäten auf Ihrem Konto und sage "
                 "Ihnen sofort, was wir gesichert haben.",
        "technical": "Ich prüfe, was bei uns nicht funktioniert, und führe Sie durch die Lösung.",
        "retention": "Schade, dass Sie überlegen zu kündigen. Ich sehe mir Ihr Konto an, damit wir Ihre "
                     "Möglichkeiten gemeinsam durchgehen können.",
        "sales": "Gern helfe ich Ihnen dabei. Ich stelle die Details und Optionen zusammen, die zu Ihrer "
                 "Beschreibung passen.",
        "partners": "Danke für Ihre Nachricht. Ich gebe sie an die richtige Person in unserem Partnerteam "
                    "weiter.",
        "general": "Ich kümmere mich jetzt darum.",
    },
    "pt": {
        "greet": ("Olá, {name},", "Prezado(a) {name},"),
        "greet_anon": ("Olá,", "Bom dia,"),
        "sorry_ref": "Sinto muito pelo problema com {ref}.",
        "sorry": "Sinto muito pelos problemas que você teve.",
        "sorry_chat": "Lamento também que nosso chat não tenha conseguido resolver.",
        "no_repeat": "Tenho toda a conversa aqui, então você não precisa repetir nada.",
        "cite": "Enquanto isso, este artigo pode ajudar: {title}{url}.",
        "close": ("Volto a falar com você em breve.", "Retornarei em breve."),
        "billing": "Estou verificando agora as cobranças na sua conta e vou confirmar o que aconteceu e "
                   "qual é o próximo passo.",
        "fraud": "Sua segurança vem em primeiro lugar: estou revisando agora a atividade da sua conta e "
                 "digo logo o que já protegemos.",
        "technical": "Estou verificando o que está falhando do nosso lado e vou orientar você na solução.",
        "retention": "Sinto muito saber que você está pensando em sair. Estou olhando sua conta para "
                     "vermos juntos as opções.",
        "sales": "Será um prazer ajudar. Estou reunindo os detalhes e as opções que combinam com o que "
                 "você descreveu.",
        "partners": "Obrigado pelo contato. Estou passando sua mensagem para a pessoa certa da nossa "
                    "equipe de parceiros.",
        "general": "Já estou analisando o seu caso.",
    },
    "it": {
        "greet": ("Ciao {name},", "Gentile {name},"),
        "greet_anon": ("Salve,", "Buongiorno,"),
        "sorry_ref": "Mi dispiace per il problema con {ref}.",
        "sorry": "Mi dispiace per i problemi che ha avuto.",
        "sorry_chat": "Mi dispiace anche che la nostra chat non sia riuscita a risolverlo.",
        "no_repeat": "Ho tutta la conversazione, quindi non dovrà ripetere nulla.",
        "cite": "Nel frattempo questo articolo può esserle utile: {title}{url}.",
        "close": ("Le scrivo a breve.", "La ricontatterò a breve."),
        "billing": "Sto controllando ora gli addebiti sul suo conto e le confermerò cosa è successo e "
                   "qual è il prossimo passo.",
        "fraud": "La sua sicurezza viene prima di tutto: sto verificando ora l'attività del suo account e "
                 "le dirò subito cosa abbiamo messo al sicuro.",
        "technical": "Sto verificando cosa non funziona da parte nostra e la guiderò nella soluzione.",
        "retention": "Mi dispiace sapere che sta pensando di lasciarci. Sto guardando il suo account per "
                     "valutare insieme le opzioni.",
        "sales": "Sarò felice di aiutarla. Sto raccogliendo i dettagli e le opzioni adatte a quanto ha "
                 "descritto.",
        "partners": "Grazie per averci contattato. Sto inoltrando il suo messaggio alla persona giusta del "
                    "nostro team partner.",
        "general": "Me ne sto occupando adesso.",
    },
    "nl": {
        "greet": ("Hoi {name},", "Beste {name},"),
        "greet_anon": ("Hallo,", "Goedendag,"),
        "sorry_ref": "Het spijt me dat er problemen zijn met {ref}.",
        "sorry": "Het spijt me dat u hier last van heeft gehad.",
        "sorry_chat": "Het spijt me ook dat onze chat u niet verder kon helpen.",
        "no_repeat": "Ik heb het hele gesprek, dus u hoeft niets te herhalen.",
        "cite": "In de tussentijd kan dit artikel helpen: {title}{url}.",
        "close": ("Ik kom zo snel mogelijk bij u terug.", "Ik neem spoedig contact met u op."),
        "billing": "Ik bekijk nu de afschrijvingen op uw account en laat u weten wat er is gebeurd en wat "
                   "de volgende stap is.",
        "fraud": "Uw veiligheid gaat voor: ik controleer nu de activiteit op uw account en laat u meteen "
                 "weten wat we hebben beveiligd.",
        "technical": "Ik zoek uit wat er bij ons misgaat en help u stap voor stap met de oplossing.",
        "retention": "Jammer om te horen dat u overweegt op te zeggen. Ik bekijk uw account zodat we samen "
                     "uw mogelijkheden kunnen doornemen.",
        "sales": "Ik help u daar graag mee. Ik zet de details en opties op een rij die passen bij wat u "
                 "beschreef.",
        "partners": "Bedankt voor uw bericht. Ik stuur het door naar de juiste persoon in ons partnerteam.",
        "general": "Ik ga er nu voor u mee aan de slag.",
    },
}  # fmt: skip


def line(language: str, key: str, tone: str) -> str:
    """One line of the draft in ``language`` and ``tone``; English when the language lacks it."""
    value = LINES.get(language, {}).get(key) or LINES["en"][key]
    if isinstance(value, tuple):
        return value[0] if tone == "friendly" else value[1]
    return value
