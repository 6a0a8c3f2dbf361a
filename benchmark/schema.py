"""The JSON Schema of ``study.yaml``, assembled from the core and each channel's fragment."""

from __future__ import annotations

from typing import Any

from .channels import registry
from .rating.rubric import RUBRIC_SCHEMA

#: bump when the schema or the checks in study.py change what is valid: study documents
#: remembered as valid (validation_cache) are then checked again
SCHEMA_VERSION = 1

ID = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]*$", "maxLength": 64,
      "description": "lower-case letters, digits, - and _"}
MAX_DURATION_SECONDS = 3660 * 86400  # ten years: longer is a typing error (and overflows dates)
DURATION = {"oneOf": [{"type": "string", "pattern": r"^\s*\d{1,7}(\.\d{1,6})?\s*[smhdw]\s*$"},
                      {"type": "integer", "minimum": 1, "maximum": MAX_DURATION_SECONDS}],
            "description": "a duration such as 90s, 30m, 48h, 7d, 2w (or seconds)"}
EMAIL = {"type": "string", "format": "email"}
HOURS = {"type": "string", "description": "weekly hours in the study's time zone, e.g. "
         "'mon-fri 09:00-17:00', 'mon-fri 08:00-12:00 13:00-18:00, sat 10:00-14:00', "
         "'daily 08:00-20:00', 'always'"}


WEIGHT = {"type": "number", "minimum": 0, "maximum": 1000}
SCORE = {"type": "number", "minimum": 0, "maximum": 100}
SCORING = {
    "type": "object",
    "additionalProperties": False,
    "description": "how the overall index is computed (defaults when absent)",
    "properties": {
        "channels": {"type": "object", "additionalProperties": WEIGHT, "minProperties": 1,
                     "maxProperties": 100,
                     "propertyNames": ID,
                     "description": "weight per channel, e.g. {phone: 50, webform: 30, "
                                    "email: 20}; channels not listed get weight 0"},
        "criteria": {
            "type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {c: WEIGHT for c in ("reachability", "speed", "quality", "tone")},
            "description": "weight per criterion; criteria not listed get weight 0",
        },
        "speed": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "bands": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["within", "score"],
                    "properties": {"within": DURATION, "score": SCORE}}},
                "later": {**SCORE, "description": "score of an answer after the last band"},
                "half_life": {**DURATION, "description": "instead of bands: score 100 * "
                              "0.5 ** (time / half_life)"},
            },
        },
        "grades": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
            "type": "object", "additionalProperties": False, "required": ["min"],
            "anyOf": [{"required": ["label"]}, {"required": ["de"]}, {"required": ["en"]}],
            "properties": {"min": SCORE,
                           "label": {"type": "string", "minLength": 1, "maxLength": 60},
                           "de": {"type": "string", "minLength": 1, "maxLength": 60},
                           "en": {"type": "string", "minLength": 1, "maxLength": 60}}}},
        "bootstrap": {
            "type": "object", "additionalProperties": False,
            "properties": {"samples": {"type": "integer", "minimum": 100, "maximum": 20000},
                           "seed": {"type": "integer", "minimum": 0}},
        },
    },
}


def study_schema() -> dict[str, Any]:
    channels = registry()
    company_channels = {name: cls.company_schema for name, cls in channels.items()}
    top: dict[str, Any] = {
        "study": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "title"],
            "properties": {
                "id": ID,
                "title": {"type": "string", "minLength": 1},
                "language": {"enum": ["de", "en"], "default": "en"},
                "timezone": {"type": "string", "default": "UTC",
                             "description": "IANA zone used in reports, e.g. Europe/Berlin"},
                "window": {**DURATION, "description": "no reply within this time = no response"},
                "client": {"type": "string", "description": "who the report is for"},
                "author": {"type": "string"},
            },
        },
        "schedule": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "start": {"type": "string",
                          "description": "ISO date-time of the first probe; default: now"},
                "spacing": {**DURATION, "description": "time between two probes"},
                "seed": {"type": ["integer", "string"], "description": "seed of the "
                         "randomised, balanced send order (default: the study id)"},
                "min_gap": {**DURATION, "description": "at least this long between two "
                            "probes to the same company"},
                "windows": {"type": "object", "description": "send window per channel name "
                            "(or default) in the study's time zone",
                            "additionalProperties": HOURS},
                "hours": {**HOURS, "description": "default opening hours of the companies "
                          "(phone, chat, visits; default mon-fri 09:00-17:00)"},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$",
                            "description": "ISO country code: no probe on its public holidays"},
                "subdivision": {"type": "string",
                                "description": "region for holidays, e.g. BY, ZH, CA"},
                "holidays": {"type": "boolean",
                             "description": "skip public holidays (default true with country)"},
                "waves": {"type": "integer", "minimum": 1, "maximum": 1000,
                          "description": "send the whole study this many times"},
                "every": {**DURATION, "description": "time between two waves; without waves: "
                          "monitor mode, a new wave every period for as long as it runs"},
                "dates": {"type": "array", "minItems": 1, "maxItems": 1000,
                          "items": {"type": "string"},
                          "description": "explicit wave dates (2026-12-07 = 09:00 local, or "
                                        "ISO date-times)"},
            },
        },
        "personas": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name", "email"],
                "properties": {
                    "id": ID,
                    "name": {"type": "string", "minLength": 1},
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "salutation": {"type": "string", "description": "e.g. Frau, Herr, Ms, Mr"},
                    "email": EMAIL,
                    "phone": {"type": "string"},
                    "postcode": {"type": "string"},
                    "city": {"type": "string"},
                    "customer_number": {"type": "string"},
                    "order_number": {"type": "string"},
                },
            },
        },
        "scenarios": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "subject", "body"],
                "properties": {
                    "id": ID,
                    "subject": {"type": "string", "minLength": 1},
                    "body": {"type": "string", "minLength": 1,
                             "description": "Jinja template; names: persona, company, scenario"},
                    "short": {"type": "string",
                              "description": "short public text for social channels; "
                                             "also what a web form gets whose message "
                                             "field does not take the body (maxlength)"},
                    "mode": {"enum": ["public", "direct"]},
                    "topic": {"type": "string",
                              "description": "hint for topic/category choices in web forms"},
                    "follow_up": {
                        "type": "object", "additionalProperties": False,
                        "required": ["after", "body"],
                        "description": "sent in the same thread (email) after this long "
                                       "without a human reply; measured separately",
                        "properties": {
                            "after": DURATION,
                            "subject": {"type": "string", "minLength": 1,
                                        "description": "default: Re: <subject>"},
                            "body": {"type": "string", "minLength": 1,
                                     "description": "Jinja template like body"},
                        },
                    },
                    "channels": {"type": "array", "items": {"type": "string"},
                                 "description": "restrict to these channels (default: all)"},
                    "rubric": {**RUBRIC_SCHEMA, "description": "criteria for rating replies "
                               "to this scenario: replace or add to the study's, drop some"},
                    "expect": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["id", "label"],
                            "properties": {
                                "id": ID,
                                "label": {"type": "string"},
                                "any": {"type": "array", "items": {"type": "string"},
                                        "description": "found if any of these occurs"},
                                "all": {"type": "array", "items": {"type": "string"},
                                        "description": "found if all of these occur"},
                            },
                        },
                    },
                },
            },
        },
        "rubric": RUBRIC_SCHEMA,
        "scoring": SCORING,
        "companies": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name", "channels"],
                "properties": {
                    "id": ID,
                    "name": {"type": "string", "minLength": 1},
                    "sector": {"type": "string"},
                    "hours": {**HOURS, "description": "opening hours: phone, chat and visits "
                              "are planned inside them (overrides schedule.hours)"},
                    "domains": {"type": "array", "items": {"type": "string"},
                                "description": "mail domains the company answers from"},
                    "brands": {"type": "array", "items": {"type": "string", "minLength": 2},
                               "description": "product and brand names, hidden in blinded "
                                              "rating sheets like the company's name"},
                    "channels": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": False,
                        "properties": company_channels,
                    },
                },
            },
        },
    }
    for cls in channels.values():
        if cls.study_key and cls.study_schema and cls.study_key not in top:
            top[cls.study_key] = cls.study_schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://servicebench.example/schema/study.json",
        "title": "servicebench study",
        "type": "object",
        "additionalProperties": False,
        "required": ["study", "personas", "scenarios", "companies"],
        "properties": top,
    }
