update users set email_domain = null;
