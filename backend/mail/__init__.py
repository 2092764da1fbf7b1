"""Email intake: sources, MIME parsing, reply extraction, automated-mail detection, threading."""
