"""The phrase lists behind :mod:`servicebench.classify.rules`, per kind and language.

Each list holds ``(regular expression, weight)`` pairs; :mod:`servicebench.classify.rules` turns
them into rules with a category and a label (German lists also match the ``ae/oe/ue/ss``
spellings). All patterns are bounded (no nested unbounded repeats) so that hostile input
cannot make matching slow.
"""

# --------------------------------------------------------------------------- automated

ACK_EN = [
    (r"\bwe(?:'ve| have)? (?:successfully |now )?received your (?:e-?mail|message|request|"
     r"inquiry|enquiry|query|ticket|mail|support request|note|question)", 2.0),
    (r"\byour (?:e-?mail|message|request|inquiry|enquiry|query|ticket|case|support request|"
     r"question) (?:has been|was|is) (?:successfully )?(?:received|logged|registered|created|"
     r"submitted|recorded)", 2.0),
    (r"\bwe would like to acknowledge that we have received", 2.5),
    (r"\bwe(?:'ve| have)? got your (?:e-?mail|message|request|note|inquiry|enquiry)", 2.0),
    (r"\backnowledge (?:the )?receipt of your", 2.0),
    (r"\b(?:this|the) (?:e-?mail|message) (?:is|serves as) (?:an? )?(?:confirmation|"
     r"acknowledge?ment)", 2.0),
    (r"\byour request \(#?\d+\) has been received", 3.0),  # Zendesk default trigger
    (r"\bticket received\b", 2.0),  # Freshdesk default subject
    (r"\bcase #?\s?\d{4,} (?:has been |was )?(?:created|opened|logged)", 2.5),  # Salesforce
    (r"\b(?:a )?(?:new )?(?:support )?(?:ticket|case|request)\s?(?:#|no\.?|number|id)?\s?"
     r"[\w-]{0,20} (?:has been|was) (?:created|opened|logged)", 2.0),
    (r"\b(?:next|following) (?:business|working) day\b|\b(?:office|business|opening) hours\b", 0.5),
    (r"\bwill be with you (?:shortly|soon|as soon as)", 1.5),
    (r"\b(?:ticket|case|request|reference|tracking|incident)(?: number| no\.?| id| #|#)"
     r"\s?(?:is\s)?[:#]?\s?[a-z0-9-]{3,}", 1.0),
    (r"\b(?:a|one of our|an?) (?:member of our (?:team|staff)|(?:support |service |customer "
     r"service |customer care )?(?:representative|agent|specialist|advisor|adviser|team "
     r"member|colleagues?)s?) will (?:get back|respond|reply|contact|be in touch|review|look|"
     r"be with you)",
     1.5),
    (r"\bwe(?:'ll| will) (?:get back to you|respond|reply|be in touch|contact you|answer)[^.!?]"
     r"{0,60}?(?:as soon as (?:possible|we can)|shortly|soon|within|asap|in due course|"
     r"at the earliest|promptly)", 1.5),
    (r"\bwithin (?:the next )?(?:\d{1,3}|one|two|three|four|five)[ -](?:business |working )?"
     r"(?:hours?|days?)\b", 0.5),
    (r"\b(?:has been|was|is) (?:logged|registered|recorded) (?:under|with) (?:the )?(?:ticket|case|"
     r"reference|request) (?:number|no\.?|id|#)", 2.0),
    (r"\bdue to (?:a |the |an )?(?:high|higher than (?:usual|normal)|increased|large|"
     r"unusually high|current(?:ly)? high) (?:volume|number|demand|amount)", 1.5),
    (r"\bwe (?:aim|strive|try|endeavou?r) to (?:respond|reply|answer|get back)", 1.5),
    (r"\bplease allow (?:up to |us )?(?:\d{1,3}|one|two|three|some time)", 1.0),
    (r"\bin the meantime\b", 0.5),
    (r"\b(?:thank you|thanks) for your patience\b", 0.75),
    (r"\bin the order (?:in which )?(?:they were|it was) received\b", 1.5),
]

ACK_DE = [
    (r"\bwir haben (?:Ihre|deine|Ihr|dein|eure|euer) (?:Anfrage|Nachricht|E-?Mail|Mail|"
     r"Schreiben|Anliegen|Kontaktanfrage|Ticket|Frage)[^.!?]{0,50}?(?:erhalten|empfangen|"
     r"bekommen)", 2.0),
    (r"\b(?:Ihre|deine|Ihr|dein) (?:Anfrage|Nachricht|E-?Mail|Mail|Kontaktanfrage|Anliegen|"
     r"Ticket|Schreiben)[^.!?]{0,50}?(?:ist|wurde|sind) (?:bei uns |erfolgreich |soeben )?"
     r"(?:eingegangen|erhalten|empfangen|registriert|angelegt|erfasst|aufgenommen|angekommen)",
     2.0),
    (r"Eingangsbestätigung|Empfangsbestätigung|Eingangsbenachrichtigung", 2.5),
    (r"\b(?:dass )?wir (?:Ihre|deine|Ihr|dein) (?:Anfrage|Nachricht|E-?Mail|Mail|Schreiben|"
     r"Anliegen)[^.!?]{0,30}?(?:erhalten|empfangen|bekommen) haben", 2.0),
    (r"(?:ein|Ihr|das) (?:Support-?)?(?:Ticket|Vorgang|Fall)\b[^.!?]{0,30}?(?:erstellt|angelegt|"
     r"eröffnet) (?:wurde|worden)|\bwurde ein (?:Ticket|Vorgang|Fall) (?:erstellt|angelegt|"
     r"eröffnet)", 2.0),
    (r"\bIhre Anfrage \(#?\d+\) (?:ist eingegangen|wurde (?:empfangen|erhalten))", 3.0),
    (r"\b(?:Ticket|Vorgangs|Fall|Bearbeitungs|Referenz|Anfrage|Service|Kunden-?service)-?"
     r"(?:nummer|nr\.?|ID)\b", 1.0),
    (r"\bwir (?:werden uns|melden uns|kommen|antworten Ihnen)[^.!?]{0,60}?(?:schnellstmöglich|"
     r"so schnell wie möglich|zeitnah|in Kürze|baldmöglichst|umgehend|innerhalb|schnellstens|"
     r"in den nächsten|so bald wie möglich)", 1.5),
    (r"\b(?:Anfrage|Nachricht|E-?Mail|Anliegen) (?:wird|werden) (?:schnellstmöglich|so schnell "
     r"wie möglich|zeitnah|umgehend|baldmöglichst|in Kürze) (?:bearbeitet|beantwortet)", 1.5),
    (r"\bwir bearbeiten (?:Ihre|deine) (?:Anfrage|Nachricht|E-?Mail)[^.!?]{0,40}?"
     r"(?:schnellstmöglich|so schnell wie möglich|zeitnah|in Kürze|baldmöglichst)", 1.5),
    (r"\bin der Reihenfolge (?:des|ihres) Eingangs", 2.0),
    (r"\b(?:bestätigen|bestätigt) (?:wir )?(?:Ihnen )?(?:hiermit )?den (?:Eingang|Erhalt)", 2.0),
    (r"\bwir werden (?:Ihre|deine) (?:Anfrage|Nachricht|E-?Mail|Anliegen)[^.!?]{0,40}?"
     r"(?:bearbeiten|beantworten|prüfen)", 1.5),
    (r"\bam nächsten (?:Werktag|Arbeitstag|Geschäftstag)\b|\b(?:Geschäftszeiten|Servicezeiten|"
     r"Öffnungszeiten)\b", 0.5),
    (r"\b(?:hohen|erhöhten|hohes|erhöhtes|starken|großen|aktuell hohen) \w{0,20}"
     r"(?:aufkommens?|volumens?)\b", 1.5),
    (r"\binnerhalb (?:von |der nächsten )?(?:\d{1,3}|ein|einem|einer|zwei|drei|vier|fünf) "
     r"(?:Stunden|Werktagen|Werktage|Arbeitstagen|Arbeitstage|Tagen|Tage|Woche)", 0.5),
    (r"\b(?:unter der|mit der) (?:Ticket|Vorgangs|Fall|Referenz|Bearbeitungs|Anfrage)-?(?:nummer|"
     r"nr\.?|ID) #?[\w-]{3,30} (?:erfasst|angelegt|registriert|aufgenommen|gespeichert|bearbeitet|"
     r"geführt)", 2.0),
    (r"\b(?:melden|kümmern) (?:wir )?uns[^.!?]{0,40}?(?:schnellstmöglich|so schnell wie möglich|"
     r"zeitnah|in Kürze|baldmöglichst|umgehend|schnellstens|so bald wie möglich)", 1.5),
    (r"\b(?:meldet|melden|kümmert|kümmern) sich[^.!?]{0,40}?(?:schnellstmöglich|so schnell wie "
     r"möglich|zeitnah|in Kürze|baldmöglichst|umgehend|schnellstens|so bald wie möglich)", 1.5),
    (r"\bBitte haben Sie (?:noch )?(?:etwas |ein wenig )?Geduld", 1.0),
    (r"\b(?:ein|eine|einer|unsere?) (?:unserer |der )?(?:Mitarbeiter(?:in|innen)?|Kollegen|"
     r"Kollegin(?:nen)?|Service-?Mitarbeiter\w*|Berater\w*)[^.!?]{0,40}?(?:wird|werden) sich"
     r"[^.!?]{0,40}?(?:melden|kümmern|befassen)", 1.5),
    (r"\bSie erhalten (?:in Kürze|schnellstmöglich|zeitnah|baldmöglichst|umgehend) (?:eine |"
     r"unsere )?(?:Antwort|Rückmeldung|Nachricht)", 1.5),
    (r"\bwurde an (?:die|den|das) zuständige\w* (?:Abteilung|Fachabteilung|Team|"
     r"Ansprechpartner|Kollegen)\w* weitergeleitet", 0.75),
]

OOO_EN = [
    (r"\bout of (?:the )?office\b", 2.0),
    (r"\bout-of-office\b|\bOOO\b", 2.0),
    (r"\bI(?:'m| am) (?:currently |presently |now )?(?:away|on (?:annual |parental |sick |"
     r"maternity |paternity |business )?leave|on (?:vacation|holiday|holidays)|on a business "
     r"trip|travel(?:l)?ing|out of (?:the )?office|not in the office|off work)\b", 2.0),
    (r"\bI will be (?:back|returning|out of (?:the )?office|away|on leave)\b", 1.5),
    (r"\bI (?:will )?return (?:to the office )?on\b", 1.0),
    (r"\b(?:with|have) limited (?:access to )?(?:e-?mail|email access)", 1.5),
    (r"\byour (?:e-?mail|message) (?:will not|won't) be forwarded", 1.5),
    (r"\bback in the office (?:on|from)", 1.5),
    (r"\b(?:upon|after|on) my return\b", 1.5),
    (r"\b(?:for|in case of) (?:anything |something )?(?:urgent|immediate|time-sensitive)(?: "
     r"(?:matters|enquiries|inquiries|requests|issues|questions|assistance))?\b|\bif (?:your "
     r"matter|your request|it|this) is urgent", 1.0),
    (r"\b(?:away|out|off|on (?:annual |parental |sick )?leave|on vacation|on holiday|absent)\b"
     r"[^.!?]{0,30}?\b(?:until|till|through|returning)\b", 1.0),
]

OOO_DE = [
    (r"\bnicht im Büro\b", 2.0),
    (r"\bich bin (?:(?:derzeit|zurzeit|momentan|aktuell|leider|gerade|heute) )?(?:im Urlaub|"
     r"nicht im Büro|abwesend|außer Haus|auf Dienstreise|auf Geschäftsreise|in Elternzeit|"
     r"krank|nicht erreichbar)", 2.5),
    (r"\baußer Haus\b", 1.0),
    (r"\bAbwesenheitsnotiz\b", 2.5),
    (r"\bich bin (?:derzeit|zurzeit|momentan|aktuell|heute|leider|vom|bis|ab|in der Zeit)"
     r"[^.!?]{0,80}?(?:nicht im Büro|abwesend|im Urlaub|außer Haus|nicht erreichbar|nicht im "
     r"Hause|in Elternzeit|im Mutterschutz|krank|auf Dienstreise|auf Geschäftsreise|nicht "
     r"verfügbar|nicht am Platz)", 2.5),
    (r"\bwieder (?:im Büro|erreichbar|für Sie (?:da|erreichbar)|zurück|am Platz)\b", 1.5),
    (r"\b(?:Ihre|Ihr) (?:E-?Mail|Nachricht|Mail|Schreiben) wird (?:nicht|nicht automatisch) "
     r"weitergeleitet", 2.0),
    (r"\bIn dringenden (?:Fällen|Angelegenheiten) (?:wenden Sie sich|kontaktieren Sie|"
     r"erreichen Sie|rufen Sie|können Sie sich)|\bfür dringende (?:Anliegen|Fälle|"
     r"Angelegenheiten|Anfragen)\b", 1.5),
    (r"\b(?:Betriebsurlaub|Betriebsferien|Weihnachtspause|Weihnachtsferien|Elternzeit|"
     r"Mutterschutz)\b", 1.5),
    (r"\bnach meiner Rückkehr\b", 1.5),
    (r"\bkeinen (?:oder nur eingeschränkten )?Zugriff auf (?:meine )?E-?Mails", 1.5),
]

SURVEY_EN = [
    (r"\bhow would you rate\b", 2.5),
    (r"\b(?:rate|review) (?:your|our|the) (?:recent )?(?:experience|support|service|"
     r"conversation|interaction)", 2.0),
    (r"\bhow (?:did we do|was your (?:experience|support experience)|satisfied (?:are|were) "
     r"you)", 2.0),
    (r"\b(?:take|complete|fill (?:out|in)|answer) (?:a|our|this|the) (?:short |brief |quick |"
     r"\d[- ]minute |one-question )?(?:survey|questionnaire)", 2.0),
    (r"\bcustomer satisfaction\b", 1.5),
    (r"\bwe(?:'d| would) love (?:your|to hear your|to get your) (?:feedback|thoughts|opinion)",
     1.5),
    (r"\bhow likely (?:are you|is it that you would) (?:to )?recommend", 2.0),
    (r"\byour (?:feedback|opinion) (?:is (?:important|valuable)|matters|helps)", 1.0),
    (r"\b(?:give us (?:your )?feedback|leave (?:us )?(?:a review|feedback)|tell us how we did)\b",
     1.0),
]

SURVEY_DE = [
    (r"\bWie zufrieden (?:waren|sind|warst|bist) (?:Sie|du)\b", 2.5),
    (r"\bWie (?:war|bewerten Sie|beurteilen Sie) (?:unser(?:en)?|Ihre|die|den) (?:Service|"
     r"Kundenservice|Support|Erfahrung|Kontakt|Beratung)", 2.5),
    (r"\bBewerten Sie (?:uns|unseren|unsere|Ihre|die|den|das|jetzt)\b", 2.0),
    (r"Kundenzufriedenheit", 1.5),
    (r"\b(?:Kunden)?umfrage\b", 1.5),
    (r"\bIhre Meinung (?:ist uns wichtig|zählt|interessiert uns)", 1.5),
    (r"\bwie wahrscheinlich ist es, dass (?:Sie|du) (?:uns|unser)", 2.0),
    (r"\b(?:Feedback geben|geben Sie uns (?:Ihr )?Feedback|Ihr Feedback (?:hilft|ist))", 1.0),
]

CONTACT_FORM_EN = [
    (r"\b(?:please )?use (?:our|the) (?:contact|online|web|support) ?form", 2.0),
    (r"\b(?:this|the|our) (?:e-?mail )?(?:address|mailbox|inbox) (?:is|will) (?:no longer|not) "
     r"(?:be )?(?:monitored|in use|checked|read|active|staffed)", 2.5),
    (r"\b(?:this|the) (?:e-?mail )?address (?:is no longer (?:valid|in use|active)|no longer "
     r"exists)", 2.5),
    (r"\bwe (?:no longer|do not|don't|cannot|can't) (?:accept|respond to|answer|process|reply "
     r"to) (?:requests|inquiries|enquiries|questions|e-?mails|messages) (?:by|via|sent to)", 2.0),
    (r"\b(?:visit|check|see|browse|find (?:the )?answers? (?:to \w+ )?in|look at) (?:our|the) "
     r"(?:help ?cent(?:er|re)|FAQs?|knowledge base|support (?:portal|site|page|cent(?:er|re))|"
     r"self[- ]service)", 1.0),
]

CONTACT_FORM_DE = [
    (r"\b(?:nutzen|verwenden|benutzen) Sie (?:bitte |dafür |hierfür |stattdessen |gerne )*"
     r"(?:unser|das)(?: \w+)? Kontaktformular", 2.0),
    (r"\büber (?:unser|das) Kontaktformular\b", 1.0),
    (r"\b(?:diese|dieses) (?:E-?Mail-?Adresse|Adresse|Postfach|Mailadresse|Mailbox) (?:wird|ist)"
     r" (?:nicht mehr|nicht|leider nicht|leider nicht mehr) (?:aktiv|gelesen|betreut|überwacht|"
     r"in Betrieb|besetzt|bearbeitet|abgerufen)", 2.5),
    (r"\b(?:diese|die) (?:E-?Mail-?)?Adresse (?:existiert nicht mehr|ist nicht mehr (?:gültig|"
     r"aktiv|erreichbar))", 2.5),
    (r"\bE-?Mails an diese Adresse werden (?:nicht|nicht mehr|leider nicht) (?:gelesen|"
     r"bearbeitet|beantwortet)", 2.5),
    (r"\b(?:Anfragen|Nachrichten) (?:per|via) E-?Mail (?:können wir|werden) (?:leider )?"
     r"(?:nicht|nicht mehr|keine) (?:bearbeiten|beantworten|bearbeitet|beantwortet)", 2.5),
    (r"\b(?:besuchen Sie|schauen Sie (?:gerne |doch )?in|finden Sie (?:auch )?(?:in|auf)) "
     r"(?:unser(?:em|en)?|"
     r"das|die|den) (?:Hilfe-?Cent(?:er|rum)|Hilfebereich|FAQ|Kundenportal|Servicebereich|"
     r"Service-?Portal|Hilfeseiten?|Online-?Hilfe)", 1.0),
]

AUTO_NOTICE_EN = [
    (r"\b(?:this|the) is an? (?:automated|automatic|auto-generated|automatically generated|"
     r"system[- ]generated|computer[- ]generated) (?:response|reply|message|e-?mail|"
     r"notification|confirmation|acknowledge?ment)", 3.0),
    (r"\b(?:this|the) (?:e-?mail|message|notification|reply|response) (?:was|has been|is) "
     r"(?:sent |generated |created )?automatically", 3.0),
    (r"\bautomatically (?:generated|sent|created)\b", 2.0),
    (r"\b(?:please )?do not reply (?:directly )?to this (?:e-?mail|message|address|"
     r"notification)", 2.0),
    (r"\b(?:replies|responses) to this (?:e-?mail|message|address) (?:will not|won't|are not|"
     r"cannot) be (?:read|monitored|answered|received|delivered|seen)", 2.0),
    (r"\bauto-?reply\b|\bauto-?responder\b|\bauto-?response\b", 1.5),
    (r"\bsend-?only (?:address|mailbox)\b", 1.5),
]

AUTO_NOTICE_DE = [
    (r"\bautomatisch (?:generiert|erstellt|versendet|verschickt|erzeugt|versandt)", 3.0),
    (r"\b(?:diese|dies ist eine) (?:E-?Mail|Nachricht|Benachrichtigung|Antwort|Mail) (?:wurde |"
     r"ist )?(?:automatisch|maschinell)", 3.0),
    (r"\bautomatische (?:Antwort|Benachrichtigung|Nachricht|E-?Mail|Rückmeldung)", 2.5),
    (r"\bbitte (?:antworten Sie nicht|nicht) (?:direkt )?(?:auf|an) diese", 2.0),
    (r"\bnur (?:für den|zum) Versand\b", 1.5),
    (r"\bAntworten auf diese (?:E-?Mail|Nachricht) (?:werden|können) (?:nicht|leider nicht)", 2.0),
]

CANNED_EN = [
    (r"\b(?:thank you|thanks) (?:so much |very much )?for (?:contacting|reaching out|getting in "
     r"touch|writing to)\b", 0.75),
    (r"\b(?:thank you|thanks) (?:so much |very much )?for your (?:e-?mail|message|inquiry|enquiry|"
     r"request|interest)\b", 0.5),
    (r"\bdear (?:valued )?customer\b|\bdear sir(?: or |/)madam\b", 0.75),
    (r"\b(?:your|the) (?:customer service|customer care|support|service) team\s*$", 0.4),
]

CANNED_DE = [
    (r"\b(?:vielen |herzlichen |besten )?(?:Dank|danke) für (?:Ihre|deine|Ihr|dein|eure|euer) "
     r"(?:Anfrage|Nachricht|E-?Mail|Mail|Interesse|Schreiben|Kontaktaufnahme)\b", 0.5),
    (r"\bSehr geehrte(?:r|\(r\)|/r)? Kund(?:e|in|innen)\b|\bLiebe Kundin, lieber Kunde\b|"
     r"\bSehr geehrte/?r? Kundin, sehr geehrter Kunde\b", 0.75),
]

DM_REQUEST = [
    (r"\b(?:please |pls |kindly |just |feel free to )?(?:send|drop|shoot) us (?:a |an )?"
     r"(?:quick )?(?:DM|direct message|PM|private message)\b", 2.0),
    (r"\b(?:DM|PM) us\b", 2.0),
    (r"\b(?:slide|hop|pop) into (?:our|the) DMs\b", 2.0),
    (r"\bvia (?:DM|direct message|private message)\b", 1.0),
]

DM_REQUEST_DE = [
    (r"\b(?:schreib|schreibe|schreibt|schreiben Sie|send|sende|sendet|senden Sie|schick|schicke|"
     r"schickt|schicken Sie) uns (?:doch |gerne |gern |bitte |einfach |kurz )*(?:eine |einfach "
     r"eine )?(?:DM|Direktnachricht|PN|private Nachricht|persönliche Nachricht)\b", 2.0),
    (r"\bper (?:DM|PN|Direktnachricht|privater Nachricht)\b", 1.0),
    (r"\bin (?:einer|die|den) (?:DM|PN|Direktnachricht|DMs|privaten Nachrichten)\b", 1.0),
]

# ------------------------------------------------------------------------------ human

AGENT_EN = [
    # verbs an agent uses about the customer's case; not ones a customer uses about an order
    (r"\bI(?:'ve| have) (?:just |now |already |personally |also )?(?:checked|looked (?:into|at)|"
     r"reviewed|verified|confirmed|forwarded|passed (?:this|it|your)|escalated|updated your|"
     r"refunded|gone through|investigated|had a look|double-checked|raised|arranged|credited)\b",
     2.0),
    (r"\bI(?:'ve| have)? (?:just )?(?:spoken|talked|checked|confirmed) (?:with|to) (?:our|my|the) "
     r"(?:\w+ )?(?:team|colleagues?|warehouse|manager|department|accounts|logistics|supplier)",
     1.5),
    (r"\bI(?:'ve| have) (?:just |also )?(?:sent|attached|forwarded|emailed) you\b", 1.5),
    (r"\bI can (?:confirm|see|tell you|offer|recommend|assure|check)\b", 1.5),
    (r"\bI (?:just |also |personally )?(?:checked|looked into|double-checked|went ahead)\b", 1.5),
    (r"\bwe(?:'ve| have) (?:just |now )?(?:checked|looked into|investigated|double-checked)\b",
     1.0),
    (r"\b(?:I )?hope (?:this|that) (?:helps|answers|clarifies)\b", 1.25),
    (r"\bI(?:'d| would) (?:be (?:happy|glad|pleased) to|recommend|suggest|like to (?:help|"
     r"clarify|explain))", 1.25),
    (r"\b(?:let me|allow me to) (?:check|explain|clarify|look|know)\b", 0.75),
    (r"\b(?:to answer your question|regarding your question|in answer to your question|as for "
     r"your question|about your question|with regard to your (?:question|inquiry|enquiry)|"
     r"as to your question|your (?:first|second) question)", 1.25),
    (r"\bin your (?:case|situation)\b", 1.0),
    (r"\bI(?:'m| am) (?:sorry|afraid) (?:to hear|that|but|we|this)\b", 1.0),
    (r"\b(?:please find attached|attached (?:you will find|is|are))", 1.0),
    (r"\bSent from my (?:iPhone|iPad|mobile|Android|Samsung|Galaxy|phone|BlackBerry)|\bSent from "
     r"Outlook for (?:iOS|Android)|\bGet Outlook for (?:iOS|Android)", 1.5),
]

AGENT_DE = [
    # verbs an agent uses about the customer's case; not ones a customer uses ("ich habe
    # bestellt / mir Ihre Seite angesehen"), since acknowledgements often repeat the inquiry
    (r"\bich habe\b[^.!?]{0,80}?\b(?:geprüft|nachgesehen|überprüft|weitergeleitet|"
     r"recherchiert|nachgefragt|erkundigt|geklärt|veranlasst|storniert|angepasst|eingetragen|"
     r"erstattet|gutgeschrieben|notiert|kontrolliert|abgeklärt|nachgeschaut|hinterlegt|"
     r"korrigiert|herausgesucht|vermerkt|abgestimmt|erfragt|vorgemerkt|gecheckt)\b", 2.0),
    (r"\bich habe (?:Ihnen|dir)\b[^.!?]{0,60}?\b(?:gesendet|geschickt|beigefügt|angehängt|"
     r"zugeschickt|weitergeleitet|notiert|reserviert|gebucht|eingerichtet)\b", 1.5),
    (r"\bich habe (?:mir )?(?:Ihre|deine) (?:Anfrage|Frage|Nachricht|Bestellung|Unterlagen|"
     r"Rechnung|Vertrag|Daten|Kundendaten|Angaben|Kundennummer)\w* [^.!?]{0,40}?(?:angesehen|"
     r"angeschaut|durchgesehen)\b", 1.5),
    (r"\b(?:ich habe|habe ich) (?:gerade |eben |soeben )?(?:mit|bei) (?:unser(?:er|em|en)?|der|"
     r"dem|den) (?:\w+ ){0,2}(?:gesprochen|telefoniert|nachgefragt|abgestimmt|geklärt|"
     r"rückgesprochen)\b", 1.5),
    (r"\bwir haben\b[^.!?]{0,80}?\b(?:geprüft|nachgesehen|überprüft|recherchiert|geklärt|"
     r"veranlasst|storniert|geändert|angepasst|erstattet|gutgeschrieben|kontrolliert|abgeklärt|"
     r"korrigiert|hinterlegt)\b", 1.5),
    (r"\bgerne? (?:helfe|beantworte|sende|schicke|erkläre|prüfe|kümmere|bestätige|erläutere|"
     r"teile|informiere|gebe) ich\b", 1.5),
    (r"\bich kann (?:Ihnen|dir) (?:bestätigen|mitteilen|sagen|anbieten|empfehlen|versichern|"
     r"gerne|leider)", 1.5),
    (r"\b(?:ich würde (?:Ihnen|dir) (?:empfehlen|raten|vorschlagen)|ich empfehle (?:Ihnen|dir))",
     1.5),
    (r"\b(?:zu|bezüglich|hinsichtlich|betreffend|wegen) (?:Ihrer|deiner) (?:ersten |zweiten )?"
     r"Frage(?:n)?\b|\b(?:Ihre|deine) (?:erste|zweite) Frage\b", 1.25),
    (r"\bin Ihrem (?:konkreten )?Fall\b|\bin deinem Fall\b", 1.25),
    (r"\bich hoffe,? (?:ich konnte|das hilft|dies hilft|Ihnen|dir|damit|die Informationen)", 1.25),
    (r"\bleider (?:ist|sind|können wir|kann ich|haben wir|gibt es|bieten wir|muss ich|müssen "
     r"wir|ist es|geht das)\b", 0.5),
    (r"\b(?:anbei|im Anhang) (?:sende|schicke|finden Sie|erhalten Sie|findest du)\b", 1.0),
    (r"\bich (?:kümmere mich|schaue (?:mir|gerne|nach)|prüfe (?:das|dies|gerne)|kläre (?:das|"
     r"dies)|gebe (?:das|Ihre|Ihnen))", 1.0),
    (r"\bVon meinem (?:iPhone|iPad|Samsung|Smartphone|Android|Handy|Mobiltelefon)[^.\n]{0,30}"
     r"gesendet|\bGesendet von (?:meinem )?(?:iPhone|iPad|Outlook für (?:iOS|Android)|Mail für)",
     1.5),
]

# concrete answers: prices, "that is possible / not possible", "you can pay by..."
ANSWER = [
    (r"(?:€|\bEUR|\bUSD|\bGBP|\bCHF|\$|£)\s?\d{1,6}(?:[.,]\d{1,2})?\b|\b\d{1,6}(?:[.,]\d{1,2})?"
     r"\s?(?:€|EUR\b|Euro\b|\$|£|CHF\b)", 0.75),
    (r"\b(?:is|are|isn't|aren't) (?:also |unfortunately |currently |definitely |absolutely )?"
     r"(?:not )?(?:possible|an option)\b|\byou can (?:also |easily |simply )?(?:pay|order|choose|"
     r"return|select|book|cancel)\b|\bunfortunately,? (?:we|this|it) (?:can't|cannot|don't|"
     r"do not|isn't|is not)\b", 0.75),
]
ANSWER_DE = [
    (r"\b(?:ist|sind|wäre|geht) (?:bei uns |auch |leider |durchaus |problemlos |grundsätzlich |"
     r"selbstverständlich |jederzeit |ebenfalls )*(?:nicht |kein )?(?:möglich|machbar|Problem)\b",
     0.75),
    (r"\bkönnen Sie (?:bei uns |auch |gerne |gern |problemlos |selbstverständlich )*(?:per|auf|mit|"
     r"über) \w{3,20} (?:bezahlen|zahlen|bestellen|liefern lassen)", 0.75),
]

# ----------------------------------------------------------------------------- bounce

FAILURE = [
    (r"\b(?:could|can) ?not be delivered\b|\bcouldn't be delivered\b|\bwasn't delivered\b", 1.5),
    (r"\bdelivery (?:has )?failed\b|\bdelivery to the following recipients? failed\b|"
     r"\bDelivery has failed to these recipients", 1.5),
    (r"\bpermanent (?:error|failure|fatal errors?)\b|\bI've given up\b|\bgave up on\b", 2.0),
    (r"\buser unknown\b|\bunknown user\b|\bno such user\b|\brecipient unknown\b|\bunknown "
     r"recipient\b|\bmailbox unavailable\b|\bmailbox (?:not found|does not exist)\b|\baddress "
     r"rejected\b|\bno mailbox here\b|\binvalid recipient\b|\bno such (?:mailbox|recipient)\b",
     1.5),
    (r"\b5[0-5]\d[ -]#?5\.\d{1,3}\.\d{1,3}\b|\bstatus: 5\.\d{1,3}\.\d{1,3}\b", 1.5),
    (r"\b(?:mailbox|inbox|mail ?box) (?:is )?(?:full|over quota)\b|\bover quota\b|\bquota "
     r"exceeded\b|\bexceeded (?:the |its )?storage", 1.5),
    (r"\bhost (?:or domain name )?not found\b|\bdomain (?:not found|does not exist)\b|"
     r"\bNXDOMAIN\b|\bno (?:MX|mail exchanger)\b", 1.5),
    (r"\bI'?m afraid I wasn'?t able to deliver\b|\bI'?m sorry to have to inform you that your "
     r"message could not\b", 2.0),
    (r"\bThis message was created automatically by mail delivery software\b|\bThis is the mail "
     r"system at host\b|\bThis is the qmail-send program\b", 1.5),
    (r"\breturning message to sender\b|\bReturned mail\b|\bUndelivered Mail Returned to Sender\b|"
     r"\bfailure notice\b|\bUndeliverable\b|\bDelivery Status Notification \(Failure\)|\bMail "
     r"delivery failed\b|\bnon-?delivery (?:report|notification)\b|\bdelivery failure\b", 2.0),
    (r"\bThe e-?mail account that you tried to reach does not exist\b|\bAddress not found\b", 2.0),
    (r"\bmessage (?:was )?(?:rejected|blocked|refused) by\b", 1.0),
    (r"\bdid not reach some or all of the intended recipients\b|\bnon-?deliverable\b|\bnot "
     r"listed in (?:Domino|the) Directory\b", 2.0),
]

FAILURE_DE = [
    (r"\b(?:konnte|kann) (?:leider )?nicht (?:zugestellt|übermittelt|ausgeliefert) werden\b", 1.5),
    (r"\bUnzustellbar\b|\bnicht zustellbar\b|\bUnzustellbare Nachricht\b", 2.0),
    (r"\bZustellung (?:ist )?fehlgeschlagen\b|\bZustellung an folgende Empfänger oder Gruppen ist "
     r"fehlgeschlagen", 2.0),
    (r"\bAdresse nicht gefunden\b|\bAdresse wurde nicht gefunden\b|\bwurde nicht an \S{3,80} "
     r"zugestellt\b", 1.5),
    (r"\bhat einige oder alle Empfänger nicht erreicht\b|\b(?:Empfänger|Adressen) konnten nicht "
     r"erreicht werden\b", 2.0),
    (r"\bPostfach (?:ist )?(?:voll|überfüllt)\b|\bSpeicherplatz\w* (?:ist )?(?:voll|erschöpft|"
     r"überschritten)", 1.5),
    (r"\bEmpfänger(?:adresse)? (?:ist )?(?:unbekannt|existiert nicht|wurde nicht gefunden|nicht "
     r"gefunden)", 1.5),
    (r"\bFehler bei der (?:Zustellung|Übermittlung)\b|\bZustellfehler\b", 2.0),
    (r"\b(?:permanenter|dauerhafter|endgültiger) Fehler\b", 2.0),
]

DELAY = [
    (r"\bDelivery Status Notification \(Delay\)", 3.0),
    (r"\bDelayed Mail \(still being retried\)", 3.0),
    (r"\bWarning: message \S{1,60} delayed\b", 3.0),
    (r"\b(?:has been|was|is) delayed\b|\bdelivery (?:is |has been )?delayed\b|\bdelivery "
     r"incomplete\b", 1.5),
    (r"\bwill (?:continue to )?(?:retry|be retried)\b|\bstill (?:being )?retr(?:ying|ied)\b|"
     r"\bwill keep trying\b|\bwill retry for\b|\bwill continue to be attempted\b", 2.0),
    (r"\bthis is a warning (?:message )?only\b|\bYOU DO NOT NEED TO RESEND\b|\bno action is "
     r"required on your part\b", 2.5),
    (r"\bnot (?:yet )?been delivered yet\b|\bhas not yet been delivered\b|\bhasn't been "
     r"delivered yet\b|\btemporary (?:problem|failure|error)\b", 1.5),
]

DELAY_DE = [
    (r"\bZustellung (?:ist |wurde )?verzögert\b|\bverzögerte Zustellung\b|\bwird verzögert\b|"
     r"\bverzögert sich\b", 2.0),
    (r"\bes wird (?:weiterhin |erneut )?versucht\b|\bweitere Zustellversuche\b|\bwird (?:weiterhin"
     r" |erneut )?(?:versucht|wiederholt)\b", 2.0),
    (r"\bnoch nicht zugestellt\b", 2.0),
    (r"\bSie müssen (?:die Nachricht |sie )?nicht erneut senden\b|\bnur eine Warnung\b", 2.5),
    (r"\bvorübergehende[rns]? (?:Fehler|Problem)\b|\bZustellung unvollständig\b", 1.5),
    (r"\bversucht es (?:noch|weiter|erneut)\b", 2.0),
]

# -------------------------------------------------------------------------- unrelated

NEWSLETTER = [
    (r"\bnewsletter\b", 1.0),
    (r"\b(?:view|read|open|see) (?:this (?:e-?mail|message) |it )?(?:in|on) (?:your|a|the) "
     r"(?:web )?browser\b|\bview (?:online|as (?:a )?web ?page)\b", 1.5),
    (r"\bno longer (?:wish|want) to receive (?:these|our|this)\b", 1.5),
    (r"\bunsubscribe\b|\bopt[- ]out\b|\bmanage (?:your )?(?:e-?mail )?(?:preferences|"
     r"subscriptions?)\b|\bupdate your (?:e-?mail )?preferences\b", 1.0),
    (r"\b(?:you(?:'re| are) receiving|you received) this (?:e-?mail|message|newsletter) because\b"
     r"|\byou (?:have )?(?:subscribed|signed up) (?:to|for)\b", 2.0),
]

NEWSLETTER_DE = [
    (r"\bIm Browser (?:ansehen|öffnen|anzeigen|lesen)\b|\bOnline-?Version\b|\bWeb-?Version\b|"
     r"\bDarstellungsprobleme\b|\bWird diese (?:E-?Mail|Nachricht) nicht (?:richtig|korrekt) "
     r"angezeigt", 1.5),
    (r"\b(?:abmelden|abbestellen|Abmeldung|austragen|Abbestellung)\b", 1.0),
    (r"\bkeine (?:weiteren )?(?:E-?Mails|Nachrichten|Newsletter) (?:mehr )?(?:von uns )?"
     r"(?:erhalten|empfangen|bekommen) (?:möchten|wollen)", 1.5),
    (r"\bSie erhalten diese[n]? (?:E-?Mail|Nachricht|Newsletter)\w*,? (?:weil|da)\b|\bSie "
     r"erhalten diesen Newsletter\b|\bfür (?:unseren|den) Newsletter angemeldet\b", 2.0),
]

PROMO = [
    (r"\b\d{1,2} ?% (?:off|Rabatt|reduziert|sparen|günstiger|discount)\b|\b(?:bis zu|up to|save|"
     r"spare|sparen Sie) \d{1,2} ?%", 1.5),
    (r"\b(?:Rabatt|Gutschein(?:code)?|Aktionscode|Rabattcode|coupon|promo ?code|discount code|"
     r"voucher)\b", 1.0),
    (r"\b(?:Sale|Sommerschlussverkauf|Winterschlussverkauf|Black Friday|Cyber Monday|Angebot der"
     r" Woche|Deals? of the (?:day|week)|limited time|nur für kurze Zeit|nur noch heute|jetzt "
     r"(?:shoppen|entdecken|sichern|bestellen|kaufen|zugreifen)|shop now|buy now|order now|"
     r"Zum Shop|Zum Angebot)\b", 1.0),
    (r"\b(?:kostenlose[rn]? Versand|free shipping|gratis Versand|versandkostenfrei)\b", 0.75),
    (r"\b(?:neu(?:e|en|heiten)? im Sortiment|new arrivals|neue Kollektion|new collection|"
     r"Neuheiten)\b", 1.0),
]

# ------------------------------------------------- more mail systems and languages

FAILURE_MORE = [
    (r"\b(?:unable|failed) to deliver\b|\bcould not deliver\b|\bcannot deliver\b", 1.5),
    (r"\bI'?m not going to try again\b|\bhas been in the queue too long\b|\bgiving up\b", 2.0),
    (r"\b(?:was|were|has not been|have not been) not delivered to\b|\bwas not delivered\b|"
     r"\bDelivery Failure Report\b|\bfailed to be delivered\b", 1.5),
    (r"\binvalid (?:user|recipient|e-?mail|mail)? ?address(?:es)?\b|\brequested action not "
     r"taken\b|\bno such (?:address|account|person)\b|\baccount (?:is )?(?:disabled|"
     r"suspended|inactive|expired)\b|\brecipient address rejected\b", 1.5),
    (r"\bnot a member of (?:this|the) (?:mailing )?list\b|\bmessage (?:was |has been )?"
     r"(?:rejected|refused|blocked|bounced)\b|\brelay(?:ing)? (?:access )?denied\b", 1.0),
]

# failure texts in other languages (no word boundaries: CJK words have none)
FAILURE_INTL = [
    (r"n'a pas pu (?:être )?(?:remis|distribu|délivr|achemin)|impossible de (?:remettre|"
     r"livrer|distribuer)|échec (?:de (?:la )?)?(?:remise|livraison|distribution)|non remis", 2.0),
    (r"no (?:se )?(?:pudo|ha podido|puede) (?:ser )?entregar|error (?:de|en la) entrega|"
     r"no (?:fue|ha sido) entregado", 2.0),
    (r"non (?:è stato possibile|può essere|e' stato possibile) (?:consegnare|recapitare|"
     r"consegnato|recapitato)|mancato recapito|impossibile recapitare", 2.0),
    (r"não (?:pôde|foi possível|pode) (?:ser )?entreg|falha (?:na|de) entrega", 2.0),
    (r"kon niet (?:worden )?(?:bezorgd|afgeleverd)|onbestelbaar|kunde inte levereras|"
     r"kunne ikke (?:leveres|afleveres)|nelze doručit|teslim edilemedi|ei voitu toimittaa|"
     r"nie (?:może|mogła|mógł) zostać dostarczon|niedostarczon", 2.0),
    (r"не (?:может быть|удалось|был[аио]?) (?:доставлен|доставить)|недоставлен", 2.0),
    (r"(?:送信|配信|配送|転送)(?:でき|出来)ませんでした|届きませんでした|宛先(?:不明|が見つかり)|"
     r"配信(?:エラー|に失敗)|メールボックスが(?:一杯|いっぱい)|エラーメッセージ", 2.0),
    (r"无法(?:发送|送达|投递|递送)|投递失败|退信|無法(?:傳送|送達|投遞)|傳送失敗|发送失败|"
     r"邮件(?:被退回|未能送达)", 2.0),
    (r"전달(?:되지|하지) (?:않았|못했)|배달 실패|전송 실패|반송", 2.0),
]

DELAY_MORE = [
    (r"\bwill continue (?:to )?(?:attempt|try)(?:ing)? (?:delivery|to deliver)\b|\bdelivery "
     r"attempts will continue\b|\bwill (?:be retried|retry|try again) (?:for|until|later)\b", 2.5),
    (r"\bpostponed\b|\bdeferred\b|\bstill (?:queued|in the queue|trying)\b|\bhas not been "
     r"delivered\b[^.]{0,60}\byet\b|\bnot yet (?:been )?delivered\b", 1.5),
    (r"\bwarning: (?:could not send|message (?:is )?delayed|delayed)\b|\bdelay(?:ed)? "
     r"(?:warning|notification|notice)\b", 2.0),
    (r"nouvelle tentative|remise différée|retrasad[oa]|ritardat[oa]|vertraagd|遅延|延迟|"
     r"再送(?:信)?を試み", 1.5),
]

# spam and announcements: mail that answers no one
SPAM = [
    (r"\bclick (?:here|below|the link)\b", 1.0),
    (r"\b(?:to be |wish to be |want to be |be )?removed? (?:yourself )?from (?:our|this|the|"
     r"future) (?:mailing|e-?mail|distribution )?(?:list|mailings)\b|\bremove me\b|"
     r"\bto (?:be removed|remove yourself)\b", 1.5),
    (r"\bthis (?:is not|isn't) (?:a )?spam\b|\bone[- ]time (?:mailing|offer|e-?mail)\b|"
     r"\bbulk (?:e-?mail|mail)\b", 1.5),
    (r"\b(?:act now|order (?:today|now)|limited (?:time )?offer|special offer|free gift|"
     r"risk[- ]free|money[- ]back|no obligation|lowest prices?|best prices?|make money|"
     r"earn (?:extra )?(?:cash|money|\$)|work from home|100% free|free trial|guaranteed)\b", 1.0),
    (r"\b(?:we are|we're) (?:pleased|happy|proud|excited) to announce\b|\bis (?:now )?available "
     r"(?:for download|at|from)\b|\bannounc(?:es|ing|ement)\b", 1.0),
    (r"免费|优惠|推广|营销|批量|代理|促销|無料|割引|キャンペーン|무료|할인|광고", 1.0),
]

SPAM += [
    (r"\b(?:dear|hello|hi) (?:friends?|partners?|potential partner|potencial partner|"
     r"valued (?:member|customer)|beneficiary|winner)\b", 1.0),
    (r"\bcheap(?:est)?\b|\blow(?:est)? pri ?ces?\b|\bdis[cz]ou?n+t\b|\bno (?:prescription|"
     r"dr-?script)\b|\b(?:quality|wholesale) (?:products|drugs|goods|service)\b", 1.0),
    (r"\b(?:visit|on|at) our (?:site|website|web ?shop|online store|catalog(?:ue)?)\b|\bwe are "
     r"(?:a )?(?:professional|leading|reliable) (?:in |manufacturer|supplier|company)", 1.0),
    (r"\bsee all stories\b|\b(?:news|google) alert\b", 1.0),
    (r"\bsave (?:up to )?(?:\$|€|£)?\s?\d|\bjust released\b|\b(?:only|just) (?:\$|€|£)\s?\d|"
     r"\b\d{1,5}(?:[.,]\d{2})?\s?(?:\$|€|£) (?:only|off|each)\b", 1.0),
]

# out-of-office in more languages
OOO_INTL = [
    (r"absente? du bureau|je suis absente?|en congés?\b|je serai de retour|de retour le", 2.0),
    (r"fuera de la oficina|estaré (?:de vuelta|fuera|ausente)|estoy de vacaciones|ausente hasta",
     2.0),
    (r"fuori (?:ufficio|sede)|sono in ferie|sarò di ritorno|assente fino", 2.0),
    (r"afwezig (?:tot|van)|met vakantie|ben (?:weer )?terug op|niet op kantoor", 2.0),
    (r"fora do escritório|de férias|estarei de volta|ausente até", 2.0),
    (r"nieobecn[aey]|jestem na urlopie|poza biurem|wracam", 2.0),
    (r"nicht im Hause|bin (?:ab|bis) \S{1,12} wieder|frånvarande|på semester|ikke på kontoret",
     2.0),
]

ACK_FIRST_PERSON = [
    (r"\bI(?:'ll| will| shall) (?:endeavou?r to |try to |do my best to )?(?:reply|respond|answer|"
     r"get back to you|be in touch)[^.!?]{0,40}?(?:as soon as (?:possible|I can)|shortly|on my "
     r"return|when I (?:return|get back)|at the earliest)", 1.5),
]
