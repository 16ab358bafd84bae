//! Table definitions shared by both backends (kept by hand in step with `migrations/`).

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        roles -> Text,
        active -> Bool,
        department_id -> Nullable<Text>,
        password_changed_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        name -> Text,
        key_prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        active -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_start -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    departments (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        level -> Text,
        parent_id -> Nullable<Text>,
        path -> Text,
        contact_emails -> Text,
        duty_phone -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    regions (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        level -> Text,
        parent_id -> Nullable<Text>,
        path -> Text,
        center_lat -> Nullable<Double>,
        center_lng -> Nullable<Double>,
        polygon -> Nullable<Text>,
        min_lat -> Nullable<Double>,
        min_lng -> Nullable<Double>,
        max_lat -> Nullable<Double>,
        max_lng -> Nullable<Double>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    categories (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        description -> Text,
        keywords -> Text,
        default_kind -> Nullable<Text>,
        default_department_id -> Nullable<Text>,
        parent_id -> Nullable<Text>,
        path -> Text,
        time_limits -> Nullable<Text>,
        attributes -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    routing_rules (id) {
        id -> Text,
        name -> Text,
        priority -> Integer,
        category_id -> Nullable<Text>,
        region_id -> Nullable<Text>,
        kind -> Nullable<Text>,
        keywords -> Text,
        lead_department_id -> Text,
        co_department_ids -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    routing_rule_changes (id) {
        id -> Text,
        rule_id -> Text,
        action -> Text,
        actor_id -> Nullable<Text>,
        changed_at -> Timestamp,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(users -> departments (department_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    api_clients,
    login_throttle,
    departments,
    regions,
    categories,
    routing_rules,
    routing_rule_changes,
);
