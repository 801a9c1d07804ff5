import { OptionError } from '@entity-sync/core';

/**
 * The AMQP URLs of the nodes of a RabbitMQ cluster, in the order they are tried: a list of URLs,
 * or a URL whose authority names several hosts (`amqp://user:password@h1:5672,h2:5672,h3/vhost`),
 * which stands for one URL per host with the same credentials, vhost and query.
 */
export function nodeUrls(url: string | string[]): string[] {
  const urls = (Array.isArray(url) ? url : [url]).flatMap((one) => (typeof one === 'string' ? expandHosts(one) : [one]));
  if (urls.length === 0 || urls.some((one) => typeof one !== 'string' || !/^amqps?:\/\/./.test(one))) {
    throw OptionError.invalid('RabbitMqTransport', 'url', url, 'an amqp:// or amqps:// URL, a list of them, or a URL with comma-separated hosts',
      "For a cluster: 'amqp://user:password@node1:5672,node2:5672,node3:5672/vhost'.");
  }
  return urls;
}

function expandHosts(url: string): string[] {
  const parts = /^(amqps?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/s.exec(url.trim());
  if (!parts || !parts[3]!.includes(',')) return [url.trim()];
  const [, scheme, credentials = '', hosts, rest] = parts;
  return hosts!.split(',').map((host) => host.trim()).filter(Boolean).map((host) => `${scheme}${credentials}${host}${rest}`);
}
