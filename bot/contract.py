"""The JSON answer contract of `policybot ask --json/--jsonl` and `POST /api/ask` (see shared/eval/README.md)."""

from __future__ import annotations

from typing import Any

from bot.compose import Answer, CitedClause


def clause_dict(clause: CitedClause, school_id: str) -> dict[str, Any]:
    return {
        "id": clause.id,
        "school": school_id,
        "policy": clause.policy_id,
        "policy_title": clause.policy_title,
        "section": clause.section,
        "heading": clause.heading,
        "citation": clause.citation,
        "text": clause.quote,
        "score": clause.score,
    }


def answer_dict(answer: Answer) -> dict[str, Any]:
    return {
        "school": answer.school_id,
        "school_name": answer.school_name,
        "question": answer.question,
        "status": answer.status,
        "message": answer.message or None,
        "clauses": [clause_dict(c, answer.school_id) for c in answer.clauses],
        "school_variant": clause_dict(answer.school_variant, answer.school_id)
        if answer.school_variant
        else None,
        "contacts": [
            {"role": c.role, "title": c.title, "name": c.name, "how": c.how} for c in answer.contacts
        ],
        "variants": [
            {
                "school": v.school_ids[0],
                "schools": list(v.school_ids),
                "school_names": list(v.school_names),
                "policy_title": v.clause.policy_title,
                "section": v.clause.section,
                "heading": v.clause.heading,
                "text": v.clause.quote,
                "note": v.note,
            }
            for v in answer.variants
        ],
        "topic": {"id": answer.topic_id, "title": answer.topic_title} if answer.topic_id else None,
        "review_note": answer.review_note,
        "interaction_id": answer.interaction_id,
        "sensitive": answer.sensitive,
        "privacy_note": answer.privacy_note,
        "handoff": {
            "role": answer.handoff.role,
            "title": answer.handoff.title,
            "label": answer.handoff.label,
            "how": answer.handoff.how,
        }
        if answer.handoff
        else None,
        "follow_up": answer.follow_up,
    }


def error_dict(message: str, school: Any = None, question: Any = None) -> dict[str, Any]:
    return {"school": school, "question": question, "status": "error", "error": message}
