-- Ticket numbers from a sequence (src/tickets/numbering.rs): no row lock shared by every intake.
CREATE SEQUENCE ticket_number_seq;
