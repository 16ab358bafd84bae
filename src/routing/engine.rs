//! The routing decision, as a pure function: which rules match a draft request, in what order,
//! and why. No I/O: the service loads the candidate rules and names.

use serde::Serialize;
use utoipa::ToSchema;

use crate::vocab::Kind;

/// What routing knows of a request.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// The category and its ancestors (ids), empty when unknown.
    pub category_ids: Vec<String>,
    /// The region and its ancestors (ids), empty when unknown.
    pub region_ids: Vec<String>,
    pub kind: Option<Kind>,
    /// Title and description.
    pub text: String,
}

/// A rule as the engine needs it.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub id: String,
    pub name: String,
    pub priority: i32,
    pub category_id: Option<String>,
    pub region_id: Option<String>,
    pub kind: Option<Kind>,
    pub keywords: Vec<String>,
    pub lead_department_id: String,
    pub co_department_ids: Vec<String>,
}

/// Which conditions of a rule matched the draft.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Matched {
    /// The rule's category id, when the rule has one (the draft's category or an ancestor).
    pub category_id: Option<String>,
    /// True when the rule's category is an ancestor, not the draft's own category.
    pub category_via_ancestor: bool,
    pub region_id: Option<String>,
    pub region_via_ancestor: bool,
    pub kind: Option<Kind>,
    /// The first of the rule's keywords found in the text.
    pub keyword: Option<String>,
}

/// Tests one rule; `None` when a condition fails. Conditions a rule leaves empty always hold.
pub fn match_rule(draft: &Draft, rule: &RuleSpec, text_lower: &str) -> Option<Matched> {
    let mut matched = Matched::default();
    if let Some(cat) = &rule.category_id {
        let pos = draft.category_ids.iter().position(|c| c == cat)?;
        matched.category_id = Some(cat.clone());
        matched.category_via_ancestor = pos + 1 < draft.category_ids.len();
    }
    if let Some(region) = &rule.region_id {
        let pos = draft.region_ids.iter().position(|r| r == region)?;
        matched.region_id = Some(region.clone());
        matched.region_via_ancestor = pos + 1 < draft.region_ids.len();
    }
    if let Some(kind) = rule.kind {
        if draft.kind != Some(kind) {
            return None;
        }
        matched.kind = Some(kind);
    }
    if !rule.keywords.is_empty() {
        let hit = rule
            .keywords
            .iter()
            .find(|k| text_lower.contains(&k.to_lowercase()))?;
        matched.keyword = Some(hit.clone());
    }
    Some(matched)
}

/// Every matching rule, best first: lower `priority` first, then the more specific rule (more
/// conditions), then the older rule (id order).
pub fn rank<'a>(draft: &Draft, rules: &'a [RuleSpec]) -> Vec<(&'a RuleSpec, Matched)> {
    let text_lower = draft.text.to_lowercase();
    let mut hits: Vec<(&RuleSpec, Matched)> = rules
        .iter()
        .filter_map(|r| match_rule(draft, r, &text_lower).map(|m| (r, m)))
        .collect();
    hits.sort_by(|(a, _), (b, _)| {
        a.priority
            .cmp(&b.priority)
            .then(specificity(b).cmp(&specificity(a)))
            .then(a.id.cmp(&b.id))
    });
    hits
}

fn specificity(rule: &RuleSpec) -> usize {
    [
        rule.category_id.is_some(),
        rule.region_id.is_some(),
        rule.kind.is_some(),
        !rule.keywords.is_empty(),
    ]
    .iter()
    .filter(|c| **c)
    .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, priority: i32) -> RuleSpec {
        RuleSpec {
            id: id.into(),
            name: id.into(),
            priority,
            category_id: None,
            region_id: None,
            kind: None,
            keywords: vec![],
            lead_department_id: format!("dept-{id}"),
            co_department_ids: vec![],
        }
    }

    #[test]
    fn precedence_and_conditions() {
        let draft = Draft {
            category_ids: vec!["water".into(), "outage".into()],
            region_ids: vec!["county".into(), "town".into()],
            kind: Some(Kind::Help),
            text: "小区停水三天了".into(),
        };
        let mut by_category = rule("a", 20);
        by_category.category_id = Some("water".into());
        let mut by_keyword = rule("b", 10);
        by_keyword.keywords = vec!["停电".into(), "停水".into()];
        let mut wrong_region = rule("c", 1);
        wrong_region.region_id = Some("elsewhere".into());
        let mut wrong_kind = rule("d", 1);
        wrong_kind.kind = Some(Kind::Complaint);
        let rules = vec![by_category, by_keyword, wrong_region, wrong_kind];
        let ranked = rank(&draft, &rules);
        let ids: Vec<&str> = ranked.iter().map(|(r, _)| r.id.as_str()).collect();
        assert_eq!(ids, vec!["b", "a"]);
        assert_eq!(ranked[0].1.keyword.as_deref(), Some("停水"));
        assert!(ranked[1].1.category_via_ancestor);
    }
}
