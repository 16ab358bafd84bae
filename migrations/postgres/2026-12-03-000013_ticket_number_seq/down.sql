DROP SEQUENCE ticket_number_seq;
