DROP FUNCTION hotline_estimate(TEXT);
