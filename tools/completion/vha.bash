# SPDX-License-Identifier: MIT
# bash completion for vhactl, vha-frontend and vha-backend.
#
# Installed (make install) as share/bash-completion/completions/<command>
# for each of the three, so bash-completion loads it on first use; or
# source it from ~/.bashrc. Options come from the program's own --help (and
# `vhactl COMMAND --help`), so they never drift from the program; commands
# and option values are listed here.

# Long options in "$@ --help", one per line.
_vha_help_options()
{
	"$@" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

# Completes the value of option $1 (the word before the cursor). Returns 1
# when $1 takes no value this file knows, so the caller goes on.
_vha_option_value()
{
	local cur=$2 words=""
	case $1 in
	--platform) words="xen sim" ;;
	--log-level) words="error warn info debug" ;;
	--grant-strategy) words="map persistent copy adaptive" ;;
	--mode) words="w r" ;;
	--device-type) words="disk cdrom" ;;
	--wait) words="initwait connected" ;;
	--rw) words="randread randwrite read write randrw" ;;
	--vdev) words="xvda xvdb xvdc xvdd xvde xvdf xvdg xvdh xvdi xvdj xvdk xvdl xvdm xvdn xvdo" ;;
	--sim-dir|--state-dir)
		COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
	--config|--target|--in|--out|--shadow|--stop-file|--log-file)
		COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
	--domid|--devid|--frontend-domid|--backend-domid|--type|--timeout|--size|--name|--max-queues|\
	--max-ring-order|--max-indirect-segments|--persistent-grants|--copy-threshold|--copy-buffers|\
	--device-inflight|--device-grants|--total-grants|--total-inflight|--total-copy-buffers|\
	--total-memory|--ring-order|--queues|--offset|--length|--random|--seed|--max-size|--bs|\
	--iodepth|--runtime|--rwmixread)
		COMPREPLY=(); return 0 ;;
	*) return 1 ;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
	return 0
}

_vha_backend()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	_vha_option_value "$prev" "$cur" && return 0
	COMPREPLY=($(compgen -W "$(_vha_help_options "${COMP_WORDS[0]}")" -- "$cur"))
}

_vha_frontend()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i
	_vha_option_value "$prev" "$cur" && return 0
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_vha_help_options "${COMP_WORDS[0]}")" -- "$cur"))
		return 0
	fi
	# One command; options may come before or after it.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		info|read|write|discard|verify|bench) COMPREPLY=(); return 0 ;;
		esac
	done
	COMPREPLY=($(compgen -W "info read write discard verify bench" -- "$cur"))
}

_vhactl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i cmd="" at=0
	local commands="sim attach detach resize list stats"
	_vha_option_value "$prev" "$cur" && return 0
	# Global options come first; the first other word is the command.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--platform|--sim-dir|--domid|--log-level) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; at=$i; break ;;
		esac
	done
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$(_vha_help_options "${COMP_WORDS[0]}")" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return 0
	fi
	if [ "$cmd" = sim ]; then
		case $((COMP_CWORD - at)) in
		1) COMPREPLY=($(compgen -W "start stop status create-domain destroy-domain --help" -- "$cur")) ;;
		2) COMPREPLY=() ;;
		*) case ${COMP_WORDS[at+1]} in
		   create-domain) COMPREPLY=($(compgen -W "--name" -- "$cur")) ;;
		   destroy-domain) COMPREPLY=($(compgen -W "--timeout" -- "$cur")) ;;
		   *) COMPREPLY=() ;;
		   esac ;;
		esac
		return 0
	fi
	COMPREPLY=($(compgen -W "$(_vha_help_options "${COMP_WORDS[0]}" "$cmd")" -- "$cur"))
}

complete -F _vha_backend vha-backend
complete -F _vha_frontend vha-frontend
complete -F _vhactl vhactl
