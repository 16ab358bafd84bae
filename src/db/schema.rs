//! Table definitions shared by both backends (kept by hand in step with `migrations/`).

diesel::table! {
    calendar_years (year) {
        year -> Integer,
        holidays -> Text,
        workdays -> Text,
        updated_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deadline_policies (id) {
        id -> Text,
        policy -> Text,
        changed_by -> Nullable<Text>,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    calendar_changes (id) {
        id -> Text,
        year -> Integer,
        before -> Nullable<Text>,
        after -> Text,
        changed_by -> Nullable<Text>,
        changed_at -> Timestamp,
    }
}

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

diesel::table! {
    tickets (id) {
        id -> Text,
        number -> Text,
        channel -> Text,
        kind -> Text,
        urgency -> Text,
        status -> Text,
        category_id -> Nullable<Text>,
        attributes -> Text,
        region_id -> Nullable<Text>,
        address -> Nullable<Text>,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        title -> Text,
        description -> Text,
        citizen_name -> Nullable<Text>,
        citizen_phone -> Nullable<Text>,
        citizen_open_id -> Nullable<Text>,
        anonymous -> Bool,
        confidential -> Bool,
        lead_department_id -> Nullable<Text>,
        lead_department_path -> Nullable<Text>,
        assignee_id -> Nullable<Text>,
        merged_into -> Nullable<Text>,
        status_before_return -> Nullable<Text>,
        extension_state -> Nullable<Text>,
        extension_days -> Nullable<Integer>,
        reply -> Nullable<Text>,
        call_id -> Nullable<Text>,
        caller_number -> Nullable<Text>,
        call_started_at -> Nullable<Timestamp>,
        call_ended_at -> Nullable<Timestamp>,
        created_by -> Nullable<Text>,
        api_client_id -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        dispatched_at -> Nullable<Timestamp>,
        signed_at -> Nullable<Timestamp>,
        replied_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        citizen_address -> Nullable<Text>,
        next_due_at -> Nullable<Timestamp>,
        callback_result -> Nullable<Text>,
        satisfaction -> Nullable<Text>,
        resolved -> Nullable<Bool>,
        redo_count -> Integer,
        reopen_count -> Integer,
    }
}

diesel::table! {
    callbacks (id) {
        id -> Text,
        ticket_id -> Text,
        citizen_ticket_id -> Text,
        citizen_key -> Text,
        reply_seq -> Integer,
        state -> Text,
        claimed_by -> Nullable<Text>,
        claim_expires_at -> Nullable<Timestamp>,
        failed_attempts -> Integer,
        channel -> Nullable<Text>,
        satisfaction -> Nullable<Text>,
        resolved -> Nullable<Bool>,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    callback_attempts (id) {
        id -> Text,
        callback_id -> Text,
        ticket_id -> Text,
        operator_id -> Nullable<Text>,
        api_client_id -> Nullable<Text>,
        channel -> Text,
        outcome -> Text,
        satisfaction -> Nullable<Text>,
        resolved -> Nullable<Bool>,
        comment -> Nullable<Text>,
        started_at -> Timestamp,
        ended_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    hotspot_alerts (id) {
        id -> Text,
        category_id -> Text,
        region_id -> Text,
        ticket_count -> Integer,
        first_ticket_at -> Timestamp,
        last_ticket_at -> Timestamp,
        raised_at -> Timestamp,
        dismissed_at -> Nullable<Timestamp>,
        dismissed_by -> Nullable<Text>,
        dismiss_reason -> Nullable<Text>,
    }
}

diesel::table! {
    hotspot_tickets (alert_id, ticket_id) {
        alert_id -> Text,
        ticket_id -> Text,
    }
}

diesel::table! {
    exports (id) {
        id -> Text,
        requested_by -> Text,
        period -> Text,
        department_id -> Nullable<Text>,
        department_path -> Nullable<Text>,
        format -> Text,
        state -> Text,
        rows_total -> Nullable<BigInt>,
        rows_written -> BigInt,
        file_name -> Nullable<Text>,
        error -> Nullable<Text>,
        attempts -> Integer,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        include_confidential -> Bool,
    }
}

diesel::table! {
    supervision_flags (id) {
        id -> Text,
        ticket_id -> Text,
        level -> Text,
        instruction -> Text,
        due_at -> Timestamp,
        deadline_id -> Text,
        flagged_by -> Text,
        flagged_at -> Timestamp,
        urge_count -> Integer,
        response -> Nullable<Text>,
        responded_by -> Nullable<Text>,
        responded_at -> Nullable<Timestamp>,
        cleared_by -> Nullable<Text>,
        cleared_at -> Nullable<Timestamp>,
        clear_reason -> Nullable<Text>,
    }
}

diesel::table! {
    ticket_deadlines (id) {
        id -> Text,
        ticket_id -> Text,
        step -> Text,
        time_limit -> Text,
        started_at -> Timestamp,
        due_at -> Timestamp,
        yellow_at -> Timestamp,
        paused_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        overdue_minutes -> Nullable<Integer>,
        warned_yellow_at -> Nullable<Timestamp>,
        warned_red_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ticket_co_handlers (ticket_id, department_id) {
        ticket_id -> Text,
        department_id -> Text,
        department_path -> Text,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> Text,
        ticket_id -> Text,
        seq -> Integer,
        action -> Text,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        from_status -> Nullable<Text>,
        to_status -> Text,
        payload -> Text,
        public -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_attachments (id) {
        id -> Text,
        ticket_id -> Text,
        sha256 -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        filename -> Text,
        uploaded_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    intake_keys (api_client_id, key) {
        api_client_id -> Text,
        key -> Text,
        request_hash -> Text,
        ticket_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_counters (day) {
        day -> Text,
        last -> Integer,
    }
}

diesel::table! {
    access_log (id) {
        id -> Text,
        user_id -> Text,
        ticket_id -> Text,
        fields -> Text,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::table! {
    outbox (id) {
        id -> Text,
        channel -> Text,
        event_type -> Text,
        template -> Nullable<Text>,
        recipient -> Text,
        ticket_id -> Nullable<Text>,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        dedupe_key -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        name -> Text,
        url -> Text,
        event_types -> Text,
        secret -> Text,
        contact -> Text,
        active -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    job_runs (job, run_key) {
        job -> Text,
        run_key -> Text,
        done_at -> Timestamp,
    }
}

diesel::joinable!(users -> departments (department_id));
diesel::joinable!(ticket_co_handlers -> tickets (ticket_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));
diesel::joinable!(ticket_deadlines -> tickets (ticket_id));
diesel::joinable!(ticket_attachments -> tickets (ticket_id));
diesel::joinable!(callbacks -> tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(
    calendar_years,
    calendar_changes,
    deadline_policies,
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
    tickets,
    ticket_co_handlers,
    ticket_deadlines,
    ticket_events,
    ticket_attachments,
    intake_keys,
    ticket_counters,
    access_log,
    outbox,
    webhook_subscriptions,
    job_runs,
    callbacks,
    callback_attempts,
    supervision_flags,
    hotspot_alerts,
    hotspot_tickets,
    exports,
);
