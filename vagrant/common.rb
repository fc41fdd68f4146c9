# Shared by vagrant/Vagrantfile and vagrant/multi-host/Vagrantfile: the libvirt settings of vagrant/ci
# (its own URI, pool, isolated management network, serial log) and the offline guest's node.

def host_has_kvm
  File.exist?("/dev/kvm") && File.readable?("/proc/cpuinfo") &&
    File.read("/proc/cpuinfo").match?(/^flags\s*:.*\b(vmx|svm)\b/)
rescue StandardError
  false
end

def find_node
  return ENV["NETLAB_NODE"] if ENV["NETLAB_NODE"] && !ENV["NETLAB_NODE"].empty?
  ENV.fetch("PATH", "").split(File::PATH_SEPARATOR).each do |dir|
    path = File.join(dir, "node")
    return File.realpath(path) if File.file?(path) && File.executable?(path)
  end
  nil
end

# serial: the file that receives the guest's serial console (nil: none)
def configure_libvirt(lv, memory:, cpus:, offline:, serial: ENV["NETLAB_SERIAL_LOG"])
  lv.driver = ENV.fetch("NETLAB_LIBVIRT_DRIVER", host_has_kvm ? "kvm" : "qemu")
  lv.uri = ENV["NETLAB_LIBVIRT_URI"] if ENV["NETLAB_LIBVIRT_URI"]
  lv.storage_pool_name = ENV["NETLAB_LIBVIRT_POOL"] if ENV["NETLAB_LIBVIRT_POOL"]
  lv.memory = memory
  lv.cpus = cpus
  lv.cpu_mode = "host-passthrough" if lv.driver == "kvm"
  if lv.driver == "qemu"
    lv.cpu_mode = "maximum"   # TCG: no host CPU to pass through; every feature qemu emulates
  end
  lv.graphics_type = "none"
  lv.video_type = "none"
  lv.serial :type => "file", :source => { :path => serial } if serial && !serial.empty?
  return unless offline
  # no NAT and no default route: the guest reaches nothing but the host's end of this network
  lv.management_network_mode = "none"
  lv.management_network_name = ENV.fetch("NETLAB_LIBVIRT_NETWORK", "netlab-vagrant")
  lv.management_network_address = ENV.fetch("NETLAB_LIBVIRT_SUBNET", "192.168.125.0/24")
end

# The offline guest takes the host's node binary (uploaded to /tmp/netlab-node by a file provisioner).
OFFLINE_NODE = <<~'SH'
  if [ -f /tmp/netlab-node ]; then install -m 0755 /tmp/netlab-node /usr/local/bin/node && rm -f /tmp/netlab-node; fi
  command -v node >/dev/null || { echo "no node in the guest: set NETLAB_NODE to a Node >= 20 binary on the host" >&2; exit 1; }
  echo "node $(node --version)"
SH

# The online guest's Node.js 20: Debian 12's own nodejs is 18, so NodeSource's apt repository.
ONLINE_NODE = <<~'SH'
  if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null; then
    install -d -m 0755 /etc/apt/keyrings
    curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
    echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" > /etc/apt/sources.list.d/nodesource.list
    apt-get update -qq
    apt-get install -y -qq nodejs >/dev/null
  fi
  echo "node $(node --version)"
SH
