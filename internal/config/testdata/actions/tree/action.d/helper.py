# A Python action: warden records it but does not run it.
