"""rtnetlink messages: our struct codec and socket, the attribute tables, dumps decoded into
kernel values, ops encoded into requests, and traffic control's requests and dumps."""
