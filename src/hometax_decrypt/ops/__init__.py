"""Operating the stack: render nginx/supervisord/systemd configuration from the settings, make
certificates, start, stop and report the status of nginx and the app servers (what ``make up`` runs)."""
