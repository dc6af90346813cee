"""The simulated kernel: links, addresses, routes and rules (``kernel``) and traffic control
(``tc``), with the real kernel's rules and fault injection."""
