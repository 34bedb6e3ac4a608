#!/usr/bin/perl
# Runs Sisimai 4 over the files named on the command line (or on stdin, one a
# line) and prints one JSON object per file, in the same shape as
# `mailtrail classify --json`, so that score.py can score both the same way.
use strict;
use warnings;
use Sisimai;
use JSON::PP;

# JSON::XS when it is installed (run.sh installs Debian's libjson-xs-perl):
# with the pure-Perl JSON::PP, encoding the lines took 6-8% of the run,
# time that measured this script rather than Sisimai.
my $json = (eval { require JSON::XS; JSON::XS->new } // JSON::PP->new)->canonical(1);
my @files = @ARGV;
if (!@files) { chomp(@files = <STDIN>); }
for my $file (@files) {
    my $data = eval { Sisimai->make($file, 'delivered' => 1) } // [];
    my @recipients;
    my $feedback;
    for my $d (@$data) {
        my $soft = $d->softbounce;
        push @recipients, {
            address    => ($d->recipient ? $d->recipient->address : undef),
            action     => ($d->action || undef),
            status     => ($d->deliverystatus || undef),
            reply_code => ($d->replycode || undef),
            reason     => $d->reason,
            hard       => ($soft eq '0' ? JSON::PP::true : JSON::PP::false),
            diagnostic => ($d->diagnosticcode || undef),
        };
        $feedback //= $d->feedbacktype if $d->feedbacktype;
    }
    print $json->encode({
        file => $file,
        kind => ((grep { $_->{reason} !~ /^(?:delivered|feedback|vacation)$/ } @recipients) ? 'bounce' : 'other'),
        recipients => \@recipients,
        feedback_type => $feedback,
    }), "\n";
}
