"""Terms of the keyword signals in the languages we write besides English: es, fr, de, pt, it, nl.

The English lists stay beside their signal (:mod:`~connector.signals.topics`,
:mod:`~connector.signals.failures`, :mod:`~connector.signals.intent`); this module holds the
others, grouped by language so the config can read, extend or replace one language at a time, and
so an explanation can say which language a matched term belongs to. Terms use the syntax of
:mod:`connector.signals.text` and are matched on normalised text (casefolded, accents stripped:
write ``reclamacao``, not ``reclamação``).

How the lists were written and checked:

- as people write to support, informally included ("me cobraron dos veces", "j'ai été prélevé
  deux fois", "ik wil mijn geld terug"), with ``prefix*`` for inflections; the English suffixes
  :mod:`~connector.signals.text` adds to a plain last word mean nothing in these languages;
- each term against the common words of the other six languages: a word that means something
  harmless elsewhere is only used in a phrase that pins its meaning. Left out or pinned on purpose:
  es ``cargo`` (English freight), fr ``enceinte`` (loudspeaker) and ``vol`` (flight), fr ``avocat``
  (avocado: only "mon avocat", "contacter un avocat"), pt ``robo`` (a robot: es "un/el robo"
  only), de ``Rezept`` and nl ``recept`` (recipe), de ``Gericht`` (a dish), nl ``arts`` (English word), nl ``avg`` (English "average"), pt ``processar``
  (to process a payment: only "vou processar"), es/it ``lamento`` (an apology, not a complaint),
  es/pt/it verbs "return" (``devuelve un error``): only with money or goods beside them;
- and against the typo tolerance of the topic signal, which reads a word one letter away from a
  term's word as that word: a term word one edit from a common word of any of the seven languages
  (es ``queja`` and ``queda``, nl ``gewond`` and ``gewone``, es ``medico`` and ``Mexico``, pt
  ``cobre`` "covers" and es ``cobro``) is written ``re:\\b…``, which the tolerance does not read
  as a word to correct towards, so it is matched only as written.
  ``tests/signals/test_sig_languages.py`` keeps those look-alikes from firing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from connector.signals.text import find_terms

LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "pt", "it", "nl")

ByLanguage = Mapping[str, tuple[str, ...]]

# --- policy topics -------------------------------------------------------------------------------

POLICY_TOPIC_TERMS: Mapping[str, ByLanguage] = {
    "refund": {
        "es": (
            "reembols*", "contracargo*", "reintegro del dinero", "dinero de vuelta", "quiero mi dinero",
            r"re:\bdevolu(?:cion|ciones)\b",
            r"re:\b(?:devolver|devuelv\w*|regres\w*|recuperar|reintegr\w*)\s+(?:\w+\s+){0,2}?"
            r"(?:dinero|plata|importe|cobr(?:o|os)|pago|producto|pedido|articulo|compra|paquete)\b",
            r"re:\b(?:quiero|quisiera|puedo|como|necesito|deseo)\s+(?:\w+\s+)?(?:devolver|"
            r"cambiar)\s+(?:el|la|los|las|mi|mis|este|esta|esto)\b",
        ),
        "fr": (
            r"re:\brembours\w*", "recuperer ... argent", "rendre ... argent",
            "rendez ... argent", "je veux mon argent", "droit de retractation",
            r"re:\b(?:retourner|renvoyer|echanger|retour(?:ne|nez)?)\s+(?:\w+\s+){0,2}?(?:colis|"
            r"article|produit|commande|achat|marchandise)s?\b",
        ),
        "de": (
            "ruckerstatt*", "erstattung*", "erstatten", "erstattet", "zuruckerstatt*",
            "ruckzahlung*", "geld zuruck", "will mein geld", "ruckbuchung*", r"re:\bretoure\w*",
            "umtausch*", "zuruckschick*", "zurucksend*", "zuruckgeb*", "widerruf*",
        ),
        "pt": (
            "reembols*", "estorn*", "dinheiro de volta", "quero meu dinheiro", r"re:\bdevolucao\b",
            r"re:\b(?:devolver|devolvam|devolva|recuperar|trocar)\s+(?:\w+\s+){0,2}?(?:dinheiro|"
            r"valor|pagamento|produto|pedido|compra|encomenda)\b",
        ),
        "it": (
            "rimbors*", "soldi indietro", "rivoglio i miei soldi", r"re:\bstorn(?:o|are)\b",
            r"re:\b(?:restitu\w*|riavere|rendere|rendete)\s+(?:\w+\s+){0,2}?(?:soldi|denaro|importo|"
            r"pagamento|prodotto|articolo|ordine|pacco)\b",
            r"re:\b(?:fare|un|il|del|per il)\s+reso\b",
        ),
        "nl": (
            "terugbetal*", "geld terug", "terugstort*", "restitutie", "retourneren", "retourneer",
            "geretourneerd",
            "terugstur*", r"re:\bruilen\b", "terugboek*",
        ),
    },
    "billing": {
        "es": (
            r"re:\bcobros?\b", r"re:\bcobrad[oa]s?\b", "cobraron", "me cobr*", "doble cargo",
            "cargo duplicado", "cargo indebido", "cargos indebidos", "importe incorrecto",
            "monto incorrecto", "error ... factura*",
            r"re:\bfactura\w*\s+(?:\w+\s+){0,3}?(?:mal|incorrecta|erronea|equivocada)\b",
            "descontaron", "me han descontado",
            r"re:\b(?:problema|error|fallo)s?\s+(?:\w+\s+){0,2}?(?:pago|pagar|factura|cobr(?:o|os)|cargo)s?\b",
            r"re:\bpagos?\s+(?:\w+\s+)?(?:rechazad|fallid|duplicad|no (?:se )?(?:ha |ha sido )?"
            r"(?:reflejad|acreditad|aplicad))\w*",
        ),
        "fr": (
            "double facturation", "surfactur*", "facture deux fois", "preleve deux fois",
            "debite deux fois", "paye deux fois", "montant incorrect", "mauvais montant",
            "trop paye", "trop percu", "erreur de facturation",
            r"re:\b(?:m'a|m'ont|m'avez|j'ai ete|a ete|ai ete)\s+(?:\w+\s+)?(?:factur|debit|prelev)\w*",
            r"re:\bproblemes?\s+(?:\w+\s+){0,2}?(?:paiement|facture|facturation|prelevement)s?\b",
            r"re:\bpaiements?\s+(?:\w+\s+)?(?:refuse|echoue|bloque|rejete)\w*",
        ),
        "de": (
            "doppelt abgebucht", "zweimal abgebucht", "doppelt berechnet", "zweimal berechnet",
            "zu viel berechnet", "zu viel bezahlt", "zuviel bezahlt", "zu viel abgebucht",
            "falscher betrag", "falsch berechnet", "falsche rechnung", "fehlbuchung*",
            "abgebucht",
            r"re:\b(?:problem|probleme|fehler)\s+(?:\w+\s+){0,2}?(?:zahlung|rechnung|abbuchung|"
            r"bezahlung|lastschrift)\w*",
        ),
        "pt": (
            "cobranca*", "cobraram", r"re:\bcobrou\b", "valor errado", "valor incorreto",
            "debitad*", "descontad*",
            r"re:\b(?:problema|erro)s?\s+(?:\w+\s+){0,2}?(?:pagamento|fatura|cobranca|boleto)s?\b",
            r"re:\bfatura\s+(?:\w+\s+)?(?:errada|incorreta)\b",
        ),
        "it": (
            "addebitat*", "doppio addebito", "addebito non autorizzato", "addebito errato",
            "importo sbagliato", "importo errato", "pagato due volte", "addebitato due volte",
            "fattura sbagliata", "errore ... fattur*",
            r"re:\bproblem[ai]\s+(?:\w+\s+){0,2}?(?:pagamento|fattura|addebito|bolletta)\b",
        ),
        "nl": (
            "dubbel afgeschreven", "twee keer afgeschreven", "afgeschreven", "te veel betaald",
            "teveel betaald", "in rekening gebracht", "verkeerd bedrag", "onjuist bedrag",
            "foute factuur", "factuur klopt niet",
            r"re:\b(?:probleem|problemen|fout)\s+(?:\w+\s+){0,2}?(?:betaling|factuur|afschrijving|"
            r"incasso)\w*",
        ),
    },
    "complaint": {
        "es": (
            r"re:\bquej(?:a|as|ar|arme|arse)\b", "reclamacion*", "reclamar", "pesimo servicio",
            "servicio pesimo", "mal servicio", "mala atencion", "mala experiencia",
            "inaceptable", "vergonzoso", "una verguenza", "indignad*", "insatisfech*",
            "no estoy satisfech*", "hoja de reclamaciones", "libro de reclamaciones",
        ),
        "fr": (
            r"re:\bplaint(?:e|es)?\b", "me plaindre", "reclamation*", "mecontent*", "insatisf*",
            "pas satisfait*", "tres decu*", "service lamentable", "service deplorable",
            "inadmissible", "inacceptable", "scandaleux", "honteux", "mauvais service",
            "mauvaise experience", "mediateur",
        ),
        "de": (
            "beschwerde*", "beschweren", "reklamation*", "reklamier*", "unzufrieden*",
            "nicht zufrieden", "enttauscht", "schlechter service", "schlechter kundenservice",
            "schlechte erfahrung", "unverschamt*", "frechheit", "skandal*", "unzumutbar",
            "schlichtungsstelle",
        ),
        "pt": (
            "reclamacao", "reclamacoes", "reclamar", r"re:\bqueixas?\b", "insatisfeit*",
            "nao estou satisfeit*", "pessimo atendimento", "atendimento pessimo",
            "pessimo servico", "pessima experiencia", "mau atendimento", r"re:\bdescaso\b",
            "inaceitavel", "vergonhoso", "uma vergonha", r"re:\bprocon\b", r"re:\breclame\s+aqui\b",
        ),
        "it": (
            r"re:\breclam[oi]\b", "reclamare", "lamentela*", "lamentarmi", "insoddisf*",
            "non sono soddisfatt*", "servizio pessimo", "pessimo servizio", "brutta esperienza",
            "vergognoso", "una vergogna", "inaccettabile", "scandaloso",
        ),
        "nl": (
            r"re:\bklacht(?:en)?\b", r"re:\bklagen\b", "ontevreden", "niet tevreden", "slechte service",
            "slechte klantenservice", "slechte ervaring", "teleurgesteld", "schandalig",
            "onacceptabel", "geschillencommissie",
        ),
    },
    "legal": {
        "es": (
            r"re:\babogad[oa]s?\b", r"re:\bdemandar(?:e|los|las|les|te|os)?\b", "demanda judicial",
            "juicio", r"re:\bjuzgado\b", "tribunales", "accion legal", "acciones legales",
            "medidas legales", "via judicial", "denuncia*",
        ),
        "fr": (
            "mon avocat", "notre avocat", "mes avocats", "contacter un avocat", "prendre un avocat", "voie judiciaire",
            "en justice", "action en justice", r"re:\bporter\s+plaint(?:e|es)?\b", "mise en demeure", r"re:\bhuissiers?\b",
            "tribunaux", "juridique*",
        ),
        "de": (
            r"re:\banwalt(?:e|in|s)?\b", "rechtsanwalt*", "anwaltlich*", r"re:\bverklag\w*",
            "klage einreich*", "vor gericht", "gerichtlich*", "rechtliche schritte",
            "strafanzeige", "anzeige erstatten", "abmahnung", "mahnbescheid",
        ),
        "pt": (
            "advogad*", "vou processar", "processar voces", "processar a empresa",
            "processo judicial", "acao judicial", "na justica", "juizado", "tribunais",
            "medidas judiciais", "juridic*",
        ),
        "it": (
            "avvocat*", "fare causa", "faro causa", "faccio causa", "denuncia", "denunciare",
            "denuncero", "tribunale", "querela", "azioni legali", "vie legali",
            "giudice di pace", "giudiziari*",
        ),
        "nl": (
            r"re:\badvoca(?:at|ten)\b", "rechtszaak", "naar de rechter", "juridisch*",
            "aansprakelijk*", "aangifte doen", "dagvaard*", "gerechtelijk*",
        ),
    },
    "medical": {
        "es": (
            "efecto secundario", "efectos secundarios", r"re:\balergi(?:a|as|co|ca|cos|cas)\b",
            "reaccion adversa", "sobredosis", "embarazad*", "embarazo", r"re:\bmedic[oa]s?\b",
            "medicamento*", r"re:\bsintomas?\b", "intoxicacion", "intoxicado",
            "intoxicada", "envenen*",
            "dolor de pecho", "dolor en el pecho", "lesionad*", r"re:\bherid[oa]s?\b", "lactancia",
        ),
        "fr": (
            "effet secondaire", "effets secondaires", "effets indesirables", r"re:\bsurdoses?\b",
            "je suis enceinte", "suis enceinte", "grossesse", "medecin*", "ordonnance*",
            "hopital", "hopitaux", "medicament*", "empoisonn*", "intoxication",
            "douleur thoracique", "douleur a la poitrine", "blessure*", "suis blesse*",
            "allaitement",
        ),
        "de": (
            "nebenwirkung*", "uberdosis", r"re:\bschwanger\w*", r"re:\barzt(?:in|e|en)?\b",
            "arztlich*", "verschreibungspflichtig*", "krankenhaus*", "notaufnahme",
            "medikament*", r"re:\bvergift\w*", "brustschmerz*", "stillzeit",
            r"re:\b(?:mich|sich|bin|ist|wurde|wurden)\s+(?:\w+\s+)?verletzt\b",
        ),
        "pt": (
            "efeito colateral", "efeitos colaterais", r"re:\balergi(?:a|as|co|ca|cos|cas)\b",
            "reacao adversa", r"re:\bgravida\b", "gravidez", r"re:\bmedic[oa]s?\b",
            "medicamento*", r"re:\bsintomas?\b", "intoxicacao", "intoxicado", "intoxicada", "envenen*", "dor no peito", r"re:\bferid[oa]s?\b",
            "amamenta*",
        ),
        "it": (
            "effetto collaterale", "effetti collaterali", "reazione avversa", "sovradosaggio",
            "incinta", "gravidanza", r"re:\bmedic[oi]\b", r"re:\bmedicinal[ei]\b", r"re:\bricetta\s+medic\w+",
            r"re:\bsintom[oi]\b", "ospedal*", "pronto soccorso", r"re:\bfarmac[oi]\b", "avvelen*",
            "intossica*", "dolore al petto", r"re:\bferit[oaie]\b", "allattament*",
        ),
        "nl": (
            "bijwerking*", "overdosis", r"re:\bzwanger\w*", r"re:\bdokters?\b", "huisarts*",
            "ziekenhuis*", r"re:\bmedicijn\w*", r"re:\bmedicatie\b", r"re:\bvergiftig\w*",
            "pijn op de borst", "borstpijn", r"re:\bgewond\b",
            "letsel", "borstvoeding",
        ),
    },
    "privacy": {
        "es": (
            "rgpd", "proteccion de datos", "datos personales", "borrar mis datos",
            "eliminar mis datos", "eliminen mis datos", "borren mis datos", "privacidad",
            "robo de identidad", "suplantacion de identidad", "filtracion de datos",
        ),
        "fr": (
            "rgpd", "protection des donnees", "donnees personnelles", "supprimer mes donnees",
            "effacer mes donnees", "supprimez mes donnees", "vie privee",
            "usurpation d'identite", "vol d'identite", "fuite de donnees", "cnil",
        ),
        "de": (
            "dsgvo", "datenschutz*", "personenbezogene daten", "personliche daten",
            "meine daten ... loschen", "privatsphare", "identitatsdiebstahl", "datenleck*",
            "datenpanne",
        ),
        "pt": (
            "lgpd", "protecao de dados", "dados pessoais", "apagar meus dados",
            "excluir meus dados", "apagar os meus dados", "privacidade", "roubo de identidade",
            "vazamento de dados",
        ),
        "it": (
            "protezione dei dati", "dati personali", "cancellare i miei dati",
            "cancellate i miei dati", "furto d'identita", "furto di identita",
            "violazione dei dati", "garante della privacy",
        ),
        "nl": (
            r"re:\b(?:de|volgens de|onder de)\s+avg\b", "gegevensbescherming",
            "persoonsgegevens", "mijn gegevens ... verwijder*", "identiteitsfraude",
            "identiteitsdiefstal", "datalek*",
        ),
    },
}  # fmt: skip

# --- a bot saying it failed ----------------------------------------------------------------------

BOT_FAILURE_TERMS: ByLanguage = {
    "es": (
        r"re:\bno\s+(?:he|hemos|ha|han)\s+(?:podido|conseguido|logrado|encontrado)\b",
        r"re:\bno\s+(?:pude|pudimos|puedo|podemos|encontre|encontramos|logre)\b",
        r"re:\bno\s+(?:es|fue|ha sido)\s+posible\b", r"re:\bno se (?:ha |han )?encontr\w*",
        "sin resultados", "ningun resultado", "no entiendo", "no te entiendo", "no le entiendo",
        "no he entendido", "no lo he entendido", "no entendi", "no estoy seguro de que",
        "reformular", "reformula", "reformularlo", "puedes repetir*", "podria repetir*",
        "no disponible", "no esta disponible", "no hay disponibilidad", "sin disponibilidad",
        "agotado", "agotados", "agotada", "agotadas", "ha fallado", "no se pudo",
    ),
    "fr": (
        r"re:\b(?:je n'ai|nous n'avons|on n'a)\s+pas\s+(?:pu|reussi|trouve|compris)\b",
        r"re:\b(?:je ne|nous ne)\s+(?:peux|pouvons|parviens|trouve|comprends)\s+pas\b",
        "impossible de", "n'est pas possible", "aucun resultat", "pas compris",
        "reformuler", "reformulez", "pouvez-vous repeter", "pas disponible", "indisponible",
        "epuise", "aucune disponibilite", "a echoue", "echec",
    ),
    "de": (
        r"re:\b(?:ich|wir)\s+(?:konnte|konnten|kann|konnen)\s+(?:\w+\s+){0,3}?(?:nicht|keine?n?)\b",
        "nicht moglich", "nicht gefunden", "nichts gefunden", "keine ergebnisse",
        "kein ergebnis", "keine treffer", "verstehe nicht", "verstehe ich nicht",
        "nicht verstanden", "anders formulieren", "umformulieren", "wiederholen sie",
        "nicht verfugbar", "ausgebucht", "ausverkauft", "keine termine", "fehlgeschlagen",
    ),
    "pt": (
        "nao consegui", "nao conseguimos", "nao foi possivel", "nao e possivel",
        "nao encontrei", "nao encontramos", "nao foi encontrad*", "nenhum resultado",
        "nao entendi", "nao compreendi", "nao entendo", "reformular", "pode repetir",
        "indisponivel", "nao esta disponivel", "esgotad*", "sem disponibilidade", "falhou",
    ),
    "it": (
        r"re:\bnon\s+(?:sono|siamo)\s+riuscit\w*", "non riesco", "non riusciamo",
        "non e possibile", "non e stato possibile", "impossibile", "non ho trovato",
        "nessun risultato", "non capisco", "non ho capito", "riformulare", "riformula",
        "puoi ripetere", "non disponibile", "esaurit*", "nessuna disponibilita",
        "non e andat* a buon fine", "fallit*",
    ),
    "nl": (
        r"re:\b(?:ik|we|wij)\s+(?:kon|konden|kan|kunnen)\s+(?:\w+\s+){0,3}?(?:niet|geen)\b",
        "niet gelukt", "niet mogelijk", "geen resultaten", "niets gevonden", "niet gevonden",
        "begrijp het niet", "begrijp u niet", "begrijp je niet", "niet begrepen",
        "anders formuleren", "herformuler*", "herhalen", "niet beschikbaar", "volgeboekt",
        "uitverkocht", "mislukt",
    ),
}  # fmt: skip

BOT_APOLOGY_TERMS: ByLanguage = {
    "es": ("lo siento", "lo sentimos", "disculp*", "perdon", "lamentablemente",
           "desafortunadamente", "me temo"),
    "fr": ("desole*", "excusez*", "je m'excuse", "nous nous excusons", "malheureusement", "je crains", "je regrette", "navre*"),
    "de": ("entschuldig*", "leider", "tut mir leid", "tut uns leid", "bedauer*"),
    "pt": ("desculp*", "lamento", "lamentamos", "infelizmente", "sinto muito", "receio"),
    "it": ("mi dispiace", "ci dispiace", "scusa*", "scusi", "purtroppo"),
    "nl": ("onze excuses", "excuses voor", "helaas", "het spijt me", "het spijt ons"),
}  # fmt: skip

# Empathy is not failure, in any language: "siento oír eso" says nothing about what the bot could do.
BOT_EMPATHY: ByLanguage = {
    "es": (r"\b(?:siento|sentimos|lamento|lamentamos)\s+(?:oir|escuchar|leer|saber)\b",
           r"\bdisculp\w*\s+(?:la|las|por la|por las)\s+(?:espera|demora|molestias)\b"),
    "fr": (r"\bdesole\w*\s+(?:d'apprendre|de l'apprendre|pour (?:l'attente|le retard|la gene))",
           r"\bexcuse\w*\s+(?:pour\s+)?(?:l'attente|le retard|la gene)"),
    "de": (r"\b(?:tut (?:mir|uns) leid|bedauer\w*),?\s+(?:das|dies)\s+zu\s+horen\b",
           r"\bentschuldig\w*\s+(?:sie\s+)?(?:die|bitte die)\s+(?:wartezeit|verzogerung)\b"),
    "pt": (r"\b(?:lamento|lamentamos|sinto muito)\s+(?:ouvir|saber|por isso)\b",
           r"\bdesculp\w*\s+(?:pela|a)\s+(?:demora|espera)\b"),
    "it": (r"\b(?:mi|ci) dispiace\s+(?:sentir\w*|saper\w*)\b",
           r"\bscus\w*\s+(?:per\s+)?(?:l'attesa|il ritardo)\b"),
    "nl": (r"\b(?:vervelend|jammer)\s+om te horen\b",
           r"\b(?:sorry|excuses)\s+voor\s+(?:het wachten|de vertraging)\b"),
}  # fmt: skip

# Negations that make an apology a failure ("lo siento, no hay mesas a las 7").
BOT_NEGATIONS: ByLanguage = {
    "es": (r"\b(?:no|ningun|ninguna|nada|nunca)\b",),
    "fr": (r"\b(?:pas|aucun|aucune|rien|jamais|plus de)\b",),
    "de": (r"\b(?:nicht|kein|keine|keinen|keinem|nichts|nie)\b",),
    "pt": (r"\b(?:nao|nenhum|nenhuma|nada|nunca)\b",),
    "it": (r"\b(?:non|nessun|nessuna|niente|nulla|mai)\b",),
    "nl": (r"\b(?:niet|geen|niets|nooit)\b",),
}

# --- teams ----------------------------------------------------------------------------------------

TEAM_KEYWORDS: Mapping[str, ByLanguage] = {
    "fraud": {
        "es": ("robad*", "un robo", "el robo", "me robaron", "fraude*", "estafa*", "hackea*", "no autoriz*",
               "no reconozco", "no fui yo", "sospechos*", "perdi mi tarjeta", "tarjeta perdida",
               "suplantacion*"),
        "fr": ("volee", "vole ma", "on m'a vole", "arnaque*", "escroquer*", "piratage", "a ete pirate",
               "non autoris*", "je ne reconnais pas", "ce n'est pas moi", "carte perdue",
               "perdu ma carte", "faire opposition"),
        "de": ("gestohlen", "diebstahl", "betrug*", "gehackt", "nicht autorisiert",
               "erkenne ... nicht", "verdachtig*", "karte verloren", "karte sperren"),
        "pt": ("roubad*", "roubo", "fraude*", "um golpe", "sofri ... golpe", "golpista*", "clonad*", "hackead*", "invadid*",
               "nao autoriz*", "nao reconheco", "nao fui eu", "suspeit*", "perdi meu cartao",
               "cartao perdido"),
        "it": ("rubat*", "furto", "frode", "truffa*", "hackerat*", "non autorizzat*",
               "non riconosco", "non sono stato io", "sospett*", "carta smarrita",
               "perso la carta"),
        "nl": ("gestolen", "diefstal", "fraude", "oplichting", "opgelicht", "gehackt",
               "niet geautoriseerd", "herken ... niet", "verdacht*", "pas kwijt", "kaart kwijt",
               "pas blokkeren"),
    },
    "retention": {
        "es": (r"re:\b(?:cancelar|cerrar|eliminar|borrar|anular)\b(?:\W+\w+){0,3}?\W+(?:cuenta|"
               r"suscripcion|plan|contrato|membresia|poliza|servicio)s?\b", "darme de baja",
               "dar de baja", "cambiarme de banco"),
        "fr": ("resilier", "resiliation", "desabonn*", "desinscri*",
               r"re:\b(?:annuler|fermer|cloturer|supprimer)\b(?:\W+\w+){0,3}?\W+(?:compte|"
               r"abonnement|contrat|forfait|adhesion)s?\b"),
        "de": ("kundigen", "kundigung*", "gekundigt", "kundige",
               r"re:\b(?:konto|abo|abonnement|vertrag|mitgliedschaft)\b(?:\W+\w+){0,3}?\W+"
               r"(?:schliessen|loschen|auflosen|beenden)\b"),
        "pt": ("rescindir", "rescisao",
               r"re:\b(?:cancelar|encerrar|fechar|excluir)\b(?:\W+\w+){0,3}?\W+(?:conta|"
               r"assinatura|plano|contrato|servico)s?\b"),
        "it": ("disdett*", "disdire", "recedere", "recesso",
               r"re:\b(?:annullare|chiudere|cancellare|disattivare)\b(?:\W+\w+){0,3}?\W+(?:conto|"
               r"account|abbonamento|contratto|polizza)\b"),
        "nl": ("opzeggen", "opzegging", "opgezegd", r"re:\bzeg\s+(?:mijn|het|ons|de)\s+\w+\s+op\b",
               r"re:\b(?:rekening|account|abonnement|contract|lidmaatschap)\b(?:\W+\w+){0,3}?\W+"
               r"(?:opheffen|sluiten|verwijderen|stopzetten|beeindigen)\b"),
    },
    "billing": {
        "es": ("cobro*", "cobrad*", "cobraron", "comision*", "factura*", "reembols*",
               "cuota*", "pagar mi", "saldo"),
        "fr": ("des frais", "les frais", "frais de", "factur*", "rembours*", "prelevement*", "preleve"),
        "de": ("gebuhr*", "rechnung*", "abbuchung*", "abgebucht", "erstatt*", "ruckerstatt*",
               "lastschrift*"),
        "pt": ("taxa", "taxas", "tarifa*", "fatura*", "cobranca*", "cobrad*", "reembols*",
               "estorn*", "boleto*"),
        "it": ("addebit*", r"re:\bcommission[ei]\b", "fattur*", "rimbors*", "bollett*",
               r"re:\bcanone\b"),
        "nl": ("extra kosten", "transactiekosten", "factuur", "facturen", "afschrijving*", "afgeschreven",
               "terugbetal*", "incasso"),
    },
    "technical": {
        "es": ("iniciar sesion", "contrasena*", "bloquead*", "no funciona", "no me deja",
               "restablecer", "codigo de verificacion", "verificar mi identidad"),
        "fr": ("me connecter", "se connecter", "connexion", "mot de passe", "identifiant*",
               "ne fonctionne pas", "marche pas", "reinitialiser",
               r"re:\b(?:appli|application|app|site|page)\s+(?:\w+\s+)?plante\b",
               "code de verification"),
        "de": ("anmelden", "einloggen", "anmeldung", "passwort*", "kennwort*", "gesperrt",
               "funktioniert nicht", "geht nicht", "fehlermeldung*", "sturzt ... ab",
               "zurucksetzen", "verifizier*"),
        "pt": ("fazer login", "senha*", "bloquead*", "nao funciona", "erro", "redefinir",
               "codigo de verificacao"),
        "it": ("accedere", "non riesco ad accedere", "bloccat*", "non funziona", "errore",
               "si blocca", "reimpostare", "codice di verifica"),
        "nl": ("inloggen", "wachtwoord*", "geblokkeerd", "werkt niet", "foutmelding*",
               "storingen", "een storing", "crasht", "resetten"),
    },
    "sales": {
        "es": ("comprar", "presupuesto", "cotizacion", "precio", "precios", "contratar", "prestamo*",
               "hipoteca*", "abrir ... cuenta", "que ofrecen"),
        "fr": ("acheter", r"re:\bdevis\b", "prix", "souscrire", "ouvrir ... compte", "un pret",
               "pret immobilier", "pret personnel", "credit immobilier"),
        "de": ("kaufen", "angebot*", "preis", "preise", "kredit*", "darlehen", "hypothek*",
               "konto eroffnen"),
        "pt": ("comprar", "orcamento", "cotacao", "preco", "precos", "contratar", "emprestimo*",
               "financiamento", "abrir ... conta"),
        "it": ("comprare", "acquistar*", "preventivo", "prezz*", r"re:\b(?:un|il|del|nuovo)\s+mutuo\b", "prestito",
               "aprire ... conto"),
        "nl": ("kopen", "offerte", "prijs", "prijzen", "lening*", "hypotheek", "hypotheken",
               "rekening openen"),
    },
}  # fmt: skip


# --- helpers --------------------------------------------------------------------------------------


def with_english(
    english: Mapping[str, Sequence[str]], others: Mapping[str, ByLanguage]
) -> dict[str, dict[str, tuple[str, ...]]]:
    """``{group: {"en": english[group], lang: terms, ...}}`` for every group of ``english``."""
    return {
        group: {"en": tuple(terms), **{k: tuple(v) for k, v in others.get(group, {}).items()}}
        for group, terms in english.items()
    }


def flatten(by_language: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """All terms of all languages, in language order, each once."""
    return tuple(dict.fromkeys(t for terms in by_language.values() for t in terms))


def flatten_groups(groups: Mapping[str, Mapping[str, Sequence[str]]]) -> dict[str, tuple[str, ...]]:
    """``{group: all terms}`` of a ``{group: {language: terms}}`` mapping."""
    return {group: flatten(by_language) for group, by_language in groups.items()}


def term_language(
    found: str, by_language: Mapping[str, Sequence[str]], prefer: str | None = None
) -> str | None:
    """The language whose terms match the matched text ``found``, or None. When several do (a
    word two languages share), ``prefer`` (the conversation's language) wins, else the first."""
    langs = [lang for lang, terms in by_language.items() if find_terms(found, terms)]
    if prefer in langs:
        return prefer
    return langs[0] if langs else None


def languages_of(found: Iterable[str], by_language: Mapping[str, Sequence[str]]) -> list[str]:
    """``found`` words each followed by their language in brackets: ``'reembolso' (es)``."""
    out = []
    for word in found:
        lang = term_language(word, by_language)
        out.append(f"{word!r} ({lang})" if lang else repr(word))
    return out
